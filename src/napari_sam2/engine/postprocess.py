"""Post-processing of predicted mask logits, on the CPU, without compiled extensions: the
reference's filling of small holes, and the optional clean-up (one piece, no holes) used by the
image predictor and the video tracker alike."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import ndimage

HOLE_FILL_LOGIT = 0.1  # a filled hole becomes just-positive, like the reference's CUDA path
_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def fill_small_holes(logits: torch.Tensor, max_area: int) -> torch.Tensor:
    """(B, 1, h, w) mask logits: every 8-connected region of non-positive logits whose area is
    at most max_area becomes HOLE_FILL_LOGIT. Returns a new tensor; max_area 0 returns logits."""
    if max_area <= 0:
        return logits
    out = logits.clone()
    background = (logits <= 0).cpu().numpy()
    for b in range(background.shape[0]):
        labels, count = ndimage.label(background[b, 0], structure=_EIGHT_CONNECTED)
        if count == 0:
            continue
        areas = np.bincount(labels.ravel())
        small = (areas <= max_area) & (np.arange(len(areas)) > 0)
        holes = torch.from_numpy(small[labels]).to(out.device)
        out[b, 0][holes] = HOLE_FILL_LOGIT
    return out


REMOVED_LOGIT = -10.0  # a removed piece becomes clearly background, in masks and in memories alike


@dataclass(frozen=True)
class MaskCleanup:
    """Optional clean-up of every predicted mask (issue 19), on by default; turn it off with
    MaskCleanup.off() (scripting), `--no-cleanup` (command line) or the plugin's setting.

    keep_one_piece: keep only the connected piece under the positive clicks (one piece per
    click), or the largest piece for a box, a mask prompt or a tracked frame: a nucleus is one
    piece, and stray bits on neighbours or on bright speckles are not it.
    fill_holes: fill every hole of the kept mask (dark nucleoli, chromatin gaps): a nucleus has none."""

    keep_one_piece: bool = True
    fill_holes: bool = True

    @classmethod
    def off(cls) -> MaskCleanup:
        return cls(keep_one_piece=False, fill_holes=False)

    @property
    def active(self) -> bool:
        return self.keep_one_piece or self.fill_holes

    def apply(self, logits: torch.Tensor, anchors: np.ndarray | None = None) -> torch.Tensor:
        """(B, 1, h, w) or (B, h, w) mask logits -> a cleaned copy. anchors: (N, 2) (x, y) positive
        clicks in the logits' continuous pixel coordinates (pixel j spans [j, j + 1)), or None
        (the largest piece)."""
        if not self.active:
            return logits
        out = logits.clone()
        flat = out.reshape(-1, *out.shape[-2:])  # (B, h, w) view of the copy
        positive = (flat > 0).cpu().numpy()
        for b in range(flat.shape[0]):
            kept = self._kept(positive[b], anchors)
            removed = torch.from_numpy(positive[b] & ~kept).to(out.device)
            flat[b][removed] = REMOVED_LOGIT
            if self.fill_holes:
                holes = torch.from_numpy(ndimage.binary_fill_holes(kept) & ~kept).to(out.device)
                flat[b][holes] = HOLE_FILL_LOGIT
        return out

    def _kept(self, mask: np.ndarray, anchors: np.ndarray | None) -> np.ndarray:
        """The pieces of an (h, w) bool mask to keep."""
        if not self.keep_one_piece or not mask.any():
            return mask
        pieces, count = ndimage.label(mask, structure=_EIGHT_CONNECTED)
        h, w = mask.shape
        under = set()
        for x, y in np.asarray(anchors if anchors is not None else np.zeros((0, 2))).reshape(-1, 2):
            row, col = min(max(int(np.floor(y)), 0), h - 1), min(max(int(np.floor(x)), 0), w - 1)
            if pieces[row, col]:
                under.add(int(pieces[row, col]))
        if not under:  # no click, or clicks off the mask: the largest piece
            under = {int(np.argmax(np.bincount(pieces.ravel())[1:]) + 1)}
        return np.isin(pieces, sorted(under))


def add_cleanup_flag(command) -> None:
    """`--no-cleanup` on an argparse command: args.cleanup is MaskCleanup() or MaskCleanup.off()."""
    command.add_argument("--no-cleanup", dest="cleanup", action="store_const", const=MaskCleanup.off(),
                         default=MaskCleanup(), help="keep the model's masks as they are (default: each mask is "
                                                     "the one piece under its click, or the largest, holes filled)")


def positive_clicks(coords: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor, scale: float) -> np.ndarray:
    """(N, 2) (x, y) of the positive clicks (label 1) among coords (..., N, 2), times scale."""
    coords, labels = np.asarray(coords, np.float32).reshape(-1, 2), np.asarray(labels).reshape(-1)
    return coords[labels == 1] * scale
