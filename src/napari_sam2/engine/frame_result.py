"""What the tracker hands out for one frame, and how it goes onto stored labels."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Collection, Mapping

import numpy as np
import torch
import torch.nn.functional as F

from ..model.frame_steps import NO_OBJECT_LOGIT
from .clicked_outlines import grown_into_cells
from .label_rule import winning_labels
from .mask_check import MaskWarning, mask_warning
from .mask_upsampling import local_positive_logits
from .prompts import Prompt
from .tiling import LocalLogits

if TYPE_CHECKING:
    from .memory_bank import MemoryEntry


class LabelledFrame:
    """What every result of a frame offers, from its objects' logits (`local_logits`, each over
    the original pixels its model input covers): masks, the label image, and the one rule for
    writing onto stored labels. Subclasses are dataclasses with frame, object_ids, video_hw and
    updated_ids."""

    def local_logits(self) -> dict[int, LocalLogits]:
        """Object id -> its (1, h, w) logits over part of the frame; objects without an output
        on this frame may be left out."""
        raise NotImplementedError

    def local_pieces(self) -> list[tuple[int, LocalLogits]]:
        """(object id, logits over a box) pieces, in object order, outside of which each object's
        logits are not positive: all that masks and labels need."""
        return list(self.local_logits().items())

    @property
    def masks(self) -> dict[int, np.ndarray]:
        """Object id -> (H, W) bool mask at the video's resolution."""
        masks = {obj_id: np.zeros(self.video_hw, bool) for obj_id in self.object_ids}
        for obj_id, local in self.local_pieces():
            y0, y1, x0, x1 = local.box
            masks[obj_id][y0:y1, x0:x1] |= (local.logits[0] > 0).numpy()
        return masks

    def label_image(self, dtype=np.uint32) -> np.ndarray:
        """(H, W) labels: each pixel gets the id of the object with the highest positive logit."""
        return winning_labels(self.video_hw, self.local_pieces(), dtype=dtype)

    def paint_onto(self, stored: np.ndarray, image: np.ndarray | None = None, as_given: Collection[int] = ()) -> np.ndarray:
        """`stored` (H, W) labels with this result applied: the updated objects' old pixels are
        cleared and they get the pixels they win now (label_image's rule, among every object
        with an output here); every other pixel keeps its stored label. The one rule for
        writing a result, so that a prompt edit or a propagation changes only what it is about.
        image: the (H, W) frame (clicked_outlines.outline_image): the updated objects' labels are
        then grown to their cells' outlines, onto pixels of no label only, but for the objects
        `as_given` (the user's own outline on this frame: a mask drawn, a click saying "not here")."""
        if stored.shape != tuple(self.video_hw):
            raise ValueError(f"stored labels of shape {stored.shape} do not fit the frame's {tuple(self.video_hw)}")
        painted = paint_winners(stored, self.label_image(stored.dtype), self.updated_ids)
        grows = set(self.updated_ids) - set(as_given)
        return painted if image is None or not grows else grown_into_cells(painted, grows, image)


def paint_winners(stored: np.ndarray, winners: np.ndarray, updated_ids) -> np.ndarray:
    """`stored` (H, W) labels with the objects `updated_ids` painted from `winners` (H, W), the
    label image of every object with an output on the frame: the updated objects' stored pixels
    are cleared, they get the pixels they win, every other pixel keeps its stored label (the rule
    of LabelledFrame.paint_onto; also for label images made without logits, e.g. a cell tracker's)."""
    painted = stored.copy()
    updated = np.asarray(list(updated_ids), dtype=stored.dtype)
    painted[np.isin(stored, updated)] = 0
    won = np.isin(winners, updated)
    painted[won] = winners[won]
    return painted


@dataclass(frozen=True)
class FrameResult(LabelledFrame):
    frame: int
    object_ids: tuple[int, ...]
    low_res_logits: torch.Tensor  # (K, 1, 4h, 4w) model-resolution logits, one per object
    object_scores: torch.Tensor  # (K,) logits: > 0 where the object is predicted present
    video_hw: tuple[int, int]
    updated_ids: tuple[int, ...] = ()  # what the result is about: the object just prompted, or those tracked here
    # object id -> why its mask looks wrong (empty, implausibly large), for the object prompted
    # on this frame by the call that returned this result (mask_check.py); empty otherwise
    warnings: dict[int, MaskWarning] = field(default_factory=dict)

    def logits(self) -> torch.Tensor:
        """(K, H, W) logits at the video's resolution."""
        if not self.object_ids:
            return torch.zeros(0, *self.video_hw)
        return F.interpolate(self.low_res_logits, size=self.video_hw, mode="bilinear", align_corners=False)[:, 0]

    def local_logits(self) -> dict[int, LocalLogits]:
        logits, (height, width) = self.logits().cpu(), self.video_hw
        return {obj_id: LocalLogits((0, height, 0, width), logits[k : k + 1]) for k, obj_id in enumerate(self.object_ids)}

    def local_pieces(self) -> list[tuple[int, LocalLogits]]:
        """Each object upsampled over its positive pieces only (mask_upsampling.py): masks and
        labels cost the cells' area, not the frame's times the number of objects."""
        return local_positive_logits(self.low_res_logits, self.object_ids, self.video_hw)

    def checked(self, obj_id: int, prompt: Prompt, model_side: int, before_cleanup: torch.Tensor | None = None,
                cell_diameter: float | None = None) -> FrameResult:
        """This result with `warnings` saying whether obj_id's mask is plausible for `prompt`
        (decoded by a model whose input has model_side pixels a side; mask_check.mask_warning);
        before_cleanup: the object's (1, 1, 4h, 4w) logits as the model gave them, before the
        clean-up; cell_diameter: a typical cell's width in the frame's pixels, if known."""
        k = self.object_ids.index(obj_id)
        mask, model_mask = (self._at_video_size(logits) for logits in (self.low_res_logits[k : k + 1], before_cleanup))
        warning = mask_warning(mask, prompt, model_side, model_mask, cell_diameter)
        return self if warning is None else replace(self, warnings={obj_id: warning})

    def _at_video_size(self, low_res: torch.Tensor | None) -> np.ndarray | None:
        """(1, 1, 4h, 4w) logits -> (H, W) bool mask at the video's resolution."""
        if low_res is None:
            return None
        logits = F.interpolate(low_res.float(), size=self.video_hw, mode="bilinear", align_corners=False)
        return (logits[0, 0] > 0).cpu().numpy()


def latest_result(frame: int, latest: Mapping[int, MemoryEntry | None], side: int, video_hw: tuple[int, int],
                  updated_ids: tuple[int, ...]) -> FrameResult:
    """Every object's latest output on the frame (obj_id -> it, or None: "no object" there), at the
    model's (side, side) resolution."""
    logits, scores = [], []
    for output in latest.values():
        if output is None:
            logits.append(torch.full((1, 1, side, side), NO_OBJECT_LOGIT))
            scores.append(torch.tensor(NO_OBJECT_LOGIT))
        else:
            logits.append(output.low_res_logits.cpu())
            scores.append(output.object_score.reshape(()).cpu())
    stacked = torch.cat(logits) if logits else torch.zeros(0, 1, side, side)
    scores = torch.stack(scores) if scores else torch.zeros(0)
    return FrameResult(frame, tuple(latest), stacked, scores, video_hw, updated_ids)
