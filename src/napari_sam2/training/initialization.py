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


MEMORY_MATCH_NORM = 16.0  # |bias|: a peak of |b|^2 / sqrt(64) = 32 in the logits
MEMORY_MATCH_MIN_FREQUENCY = 0.3  # radians per token: only channel pairs that turn this fast


@torch.no_grad()
def match_frame_and_memory_positions(model: SAM2Model, generator: torch.Generator | None = None,
                                     norm: float = MEMORY_MATCH_NORM) -> None:
    """Memory attention starts by looking at the same place in the remembered frames.

    Its cross-attention rotates queries and keys by their grid positions (RoPE), so a component
    that queries and keys share, here an equal bias, scores sum_j |b_j|^2 cos(f_j * offset):
    highest at offset 0. The bias lives on the channel pairs that rotate fastest (the slow ones
    barely change over a 16 x 16 grid and would only add a constant), so the peak is one token
    wide. Cells move little between frames, and that is where their memory is. (Not yet shown to
    be enough: see issue #4's notes on the size of the image features after image-only training.)
    """
    from ..model.rope import rope_angles_2d

    for layer in model.memory_attention.layers:
        attention = layer.cross_attn_image
        dim = attention.q_proj.bias.shape[0]  # one head
        angles = rope_angles_2d(dim, 2, 2, attention.rope_theta)  # tokens (0,0), (1,0), (0,1), (1,1)
        half = dim // 4
        frequency = torch.cat([angles[1, :half], angles[2, half:]])  # per channel pair, per token
        fast = (frequency >= MEMORY_MATCH_MIN_FREQUENCY).repeat_interleave(2)  # (dim,)
        direction = torch.randn(dim, generator=generator) * fast
        bias = norm * direction / direction.norm()
        attention.q_proj.bias.copy_(bias)
        attention.k_proj.bias.copy_(bias)

