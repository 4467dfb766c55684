"""One Hiera block: (windowed or global) multi-head attention with optional query pooling, then an MLP."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .common import MLP, DropPath


def pad_to_multiple(x: torch.Tensor, window: int) -> torch.Tensor:
    """(B, H, W, C) -> (B, Hp, Wp, C) with Hp, Wp the next multiples of `window` (zero padding)."""
    pad_h = -x.shape[1] % window
    pad_w = -x.shape[2] % window
    return F.pad(x, (0, 0, 0, pad_w, 0, pad_h)) if pad_h or pad_w else x


def to_windows(x: torch.Tensor, window: int) -> torch.Tensor:
    """(B, Hp, Wp, C) -> (B * num_windows, window, window, C); Hp, Wp multiples of window."""
    B, Hp, Wp, C = x.shape
    x = x.view(B, Hp // window, window, Wp // window, window, C)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window, window, C)


def from_windows(windows: torch.Tensor, window: int, padded_hw: tuple[int, int], hw: tuple[int, int]) -> torch.Tensor:
    """Inverse of to_windows, then crop the padding: -> (B, H, W, C)."""
    Hp, Wp = padded_hw
    rows, cols = Hp // window, Wp // window
    B = windows.shape[0] // (rows * cols)
    x = windows.reshape(B, rows, cols, window, window, -1)
    x = x.permute(0, 1, 3, 2, 4, 5).reshape(B, Hp, Wp, -1)
    return x[:, : hw[0], : hw[1], :]


def max_pool_hw(x: torch.Tensor, stride: int) -> torch.Tensor:
    """Max-pool a channels-last (B, H, W, C) tensor by `stride` (floor of odd sizes)."""
    x = F.max_pool2d(x.permute(0, 3, 1, 2), kernel_size=stride, stride=stride)
    return x.permute(0, 2, 3, 1)


class HieraAttention(nn.Module):
    """Multi-head self-attention whose queries may be max-pooled (which halves the grid)."""

    def __init__(self, dim: int, dim_out: int, num_heads: int, q_stride: int | None) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.q_stride = q_stride
        self.qkv = nn.Linear(dim, dim_out * 3)
        self.proj = nn.Linear(dim_out, dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, H, W, _ = x.shape
        qkv = self.qkv(x).reshape(B, H * W, 3, self.num_heads, -1)
        q, k, v = qkv.unbind(2)  # each (B, HW, heads, head_dim)
        if self.q_stride:
            q = max_pool_hw(q.reshape(B, H, W, -1), self.q_stride)
            H, W = q.shape[1:3]
            q = q.reshape(B, H * W, self.num_heads, -1)
        out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        out = out.transpose(1, 2).reshape(B, H, W, -1)
        return self.proj(out)


class HieraBlock(nn.Module):
    """Pre-norm transformer block on a (B, H, W, C) grid.

    `window` is the attention window before pooling (0 = global attention). A block with
    `q_stride` starts a new stage: it widens the channels (dim -> dim_out) and halves the grid.
    """

    def __init__(
        self,
        dim: int,
        dim_out: int,
        num_heads: int,
        window: int,
        q_stride: int | None = None,
        mlp_ratio: float = 4.0,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        self.dim, self.dim_out = dim, dim_out
        self.window = window
        self.q_stride = q_stride
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = HieraAttention(dim, dim_out, num_heads, q_stride)
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim_out, eps=1e-6)
        self.mlp = MLP(dim_out, int(dim_out * mlp_ratio), dim_out, num_layers=2, activation=nn.GELU)
        if dim != dim_out:
            self.proj = nn.Linear(dim, dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.norm1(x)
        if self.dim != self.dim_out:
            shortcut = self.proj(x)
            if self.q_stride:
                shortcut = max_pool_hw(shortcut, self.q_stride)
        x = self._attend(x)
        x = shortcut + self.drop_path(x)
        return x + self.drop_path(self.mlp(self.norm2(x)))

    def _attend(self, x: torch.Tensor) -> torch.Tensor:
        if self.window == 0:
            return self.attn(x)
        # Pooled queries shrink every window by q_stride, so the output windows are smaller.
        stride = self.q_stride or 1
        out_window = self.window // stride
        windows = self.attn(to_windows(pad_to_multiple(x, self.window), self.window))
        out_hw = (x.shape[1] // stride, x.shape[2] // stride)
        padded = (out_hw[0] + (-out_hw[0] % out_window), out_hw[1] + (-out_hw[1] % out_window))
        return from_windows(windows, out_window, padded, out_hw)
