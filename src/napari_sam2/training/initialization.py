"""How a model trained from scratch starts: attention between prompts and image that begins as
a similarity of positions.

In the two-way transformer a click finds its place on the image only through attention whose
query carries the click's position encoding and whose key carries the image grid's. With random
query and key projections that match is scrambled, and a small model trained from scratch (we
measured it on the micro configuration) settles on segmenting every cell and ignoring the click.
Starting the query and key projections of each cross-attention as the same scaled orthogonal
matrix makes query . key contain the dot product of the two position encodings, which peaks where
the click is; training then moves on from there. Checkpoints are not touched (fine-tuning keeps them).
"""
from __future__ import annotations

import torch

from ..model import SAM2Model

POSITION_MATCH_SCALE = 4.0  # sharpens the initial positional attention (softmax over 256-4096 tokens)


@torch.no_grad()
def match_prompt_and_image_positions(model: SAM2Model, generator: torch.Generator | None = None,
                                     scale: float = POSITION_MATCH_SCALE) -> None:
    """Tie the query and key projections of the mask decoder's token<->image attentions to one
    scaled orthogonal matrix each (in place)."""
    for name, module in model.sam_mask_decoder.transformer.named_modules():
        if ("cross_attn" in name or "final_attn" in name) and hasattr(module, "q_proj"):
            q_weight, k_weight = module.q_proj.weight, module.k_proj.weight  # (inner, C) each
            inner, width = q_weight.shape
            orthogonal, _ = torch.linalg.qr(torch.randn(width, width, generator=generator))
            q_weight.copy_(scale * orthogonal[:inner])
            k_weight.copy_(scale * orthogonal[:inner])
