"""Giving a model the second IoU head of DecoderConfig.prompt_iou_head, so that the masks of prompted
decodes and those decoded from memory can be ranked each by a head fitted to them."""
from __future__ import annotations

from dataclasses import replace

from .sam2 import SAM2Model

TRACKING_HEAD = "sam_mask_decoder.iou_prediction_head."
PROMPT_HEAD = "sam_mask_decoder.prompt_iou_prediction_head."


def with_prompt_iou_head(model: SAM2Model) -> SAM2Model:
    """A copy of `model` with a prompt IoU head that starts as a copy of its IoU head (so it ranks as
    before until trained, e.g. `train --train-only sam_mask_decoder.prompt_iou_prediction_head`);
    a model that has one already is returned as it is."""
    if model.cfg.decoder.prompt_iou_head:
        return model
    cfg = replace(model.cfg, decoder=replace(model.cfg.decoder, prompt_iou_head=True))
    state = model.state_dict()
    state |= {PROMPT_HEAD + key[len(TRACKING_HEAD):]: value.clone() for key, value in state.items()
              if key.startswith(TRACKING_HEAD)}
    grown = SAM2Model(cfg).to(next(model.parameters()).device)
    grown.load_state_dict(state)
    return grown.train(model.training)
