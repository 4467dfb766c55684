"""The memory encoder's mask downsampler run only over a window around each object.

The downsampler is a stack of 3 x 3, stride-2 convolutions with pointwise layers between them, so
each output token sees the input pixels within total_stride - 1 of its centre and nothing else.
Away from its object a mask input is the background value (the memory encoder's sigmoid bias:
logits far below zero); there every object's downsampled mask equals that of an empty mask, made
once. So each object's window of tokens is computed from its own pixels, with one token more on
each side (a convolution padded at a window's edge instead of the image's is wrong on its edge
row only), and pasted into the empty mask's output.

Pixels within `tolerance` of the background count as background: the windows are then exact up to
that difference of the inputs (soft tracked masks are above -10 + 1e-3 only near the object).
"""
from __future__ import annotations

import torch
from torch import nn

MAX_WINDOW_SHARE = 0.5  # windows larger than this share of the tokens: the whole mask is cheaper


def token_spans(mask: torch.Tensor, background: float, tolerance: float, stride: int) -> torch.Tensor:
    """(B, 2, 2) int64 [first, last] token rows (axis 0) and columns (axis 1) whose receptive field
    holds a pixel of mask (B, 1, S, S) farther than `tolerance` from `background`; first > last for
    an object with none."""
    pixels = mask[:, 0]  # (B, S, S)
    reach = stride - 1  # receptive radius of the token grid, in pixels
    spans = []
    for across in (2, 1):  # rows (reduced across columns), then columns
        # (two reductions: far faster than a pass writing out which pixels differ)
        axis_any = (pixels.amax(dim=across) > background + tolerance) | (pixels.amin(dim=across) < background - tolerance)
        size = axis_any.shape[1]
        index = torch.arange(size, device=mask.device)
        first = torch.where(axis_any, index, size).amin(dim=1)  # (B,)
        last = torch.where(axis_any, index, -1).amax(dim=1)
        spans.append(torch.stack([(first - reach + stride - 1).div(stride, rounding_mode="floor").clamp(min=0),
                                  (last + reach).div(stride, rounding_mode="floor").clamp(max=size // stride - 1)], 1))
    return torch.stack(spans, dim=1)


class WindowedDownsampling:
    """MaskDownSampler outputs of a batch of masks from per-object windows (see the module's note)."""

    def __init__(self, downsampler: nn.Module, stride: int) -> None:
        self.downsampler = downsampler
        self.stride = stride
        self._empty: dict[tuple, torch.Tensor] = {}  # (size, device, dtypes, background, weights' versions) -> (1, C, T, T)

    def empty_output(self, size: int, background: float, like: torch.Tensor) -> torch.Tensor:
        """The downsampled mask of an all-background (size x size) input, (1, C, T, T), made once
        per set of weights (an in-place update of any weight makes it again)."""
        versions = tuple(p._version for p in self.downsampler.parameters())
        device = like.device.type
        autocast = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else None
        key = (size, like.device, like.dtype, autocast, background, versions)
        if key not in self._empty:
            self._empty = {key: self.downsampler(like.new_full((1, 1, size, size), background))}
        return self._empty[key]

    def __call__(self, mask: torch.Tensor, background: float, tolerance: float) -> torch.Tensor:
        """mask (B, 1, S, S) -> (B, C, S / stride, S / stride): objects of about the same window
        size downsampled together; those whose window would not be much smaller than the whole
        mask, whole."""
        B, _, S, _ = mask.shape
        tokens = S // self.stride
        spans = token_spans(mask, background, tolerance, self.stride)  # (B, 2, 2)
        extent = (spans[:, :, 1] - spans[:, :, 0] + 1).clamp(min=0).amax(dim=1)  # (B,) tokens needed a side
        out = self.empty_output(S, background, mask).expand(B, -1, -1, -1).clone()
        groups: dict[int, list[int]] = {}  # window width (tokens) -> objects; 0: the whole mask
        for k, size in enumerate(extent.tolist()):
            if size:  # (objects without a pixel keep the empty output)
                width = min(size + 2 + size % 2, tokens)  # one token more on each side; even widths: fewer shapes
                groups.setdefault(width if width * width <= MAX_WINDOW_SHARE * tokens * tokens else 0, []).append(k)
        for width, objects in groups.items():
            if width:
                self._paste_windows(out, mask, spans[objects], objects, width)
            else:
                out[objects] = self.downsampler(mask[objects])
        return out

    def _paste_windows(self, out: torch.Tensor, mask: torch.Tensor, spans: torch.Tensor, objects: list[int],
                       width: int) -> None:
        """Downsample windows of `width` tokens holding the token spans (G, 2, 2) of the masks
        `objects` of mask (B, 1, S, S), into the same rows of out (B, C, T, T)."""
        tokens = out.shape[-1]
        starts = (spans[:, :, 0] - 1).clamp(min=0, max=tokens - width)  # (G, 2) window rows, columns
        pixels = torch.arange(width * self.stride, device=mask.device)
        rows = starts[:, 0, None] * self.stride + pixels  # (G, width * stride)
        cols = starts[:, 1, None] * self.stride + pixels
        rows_of = torch.tensor(objects, device=mask.device)[:, None, None]  # (the windows only: no copy of whole masks)
        downsampled = self.downsampler(mask[rows_of, 0, rows[:, :, None], cols[:, None, :]].unsqueeze(1))  # (G, C, w, w)
        for g, (k, (row, col)) in enumerate(zip(objects, starts.tolist())):
            # a window's edge token away from the image's edge is wrong (padded there): not pasted
            top, left = int(row > 0), int(col > 0)
            bottom, right = width - int(row + width < tokens), width - int(col + width < tokens)
            out[k, :, row + top : row + bottom, col + left : col + right] = downsampled[g, :, top:bottom, left:right]
