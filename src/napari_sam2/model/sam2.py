"""The SAM 2 model: image encoder, prompt heads, memory encoder and attention, and the learnt
embeddings the video tracker uses. Time logic (which memories to use) lives in the engine."""
from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn
from torch.nn.init import trunc_normal_

from .common import MLP
from .config import SAM2Config
from .fpn_neck import FpnNeck
from .hiera import Hiera
from .image_encoder import ImageEncoder
from .mask_decoder import DecoderOutput, MaskDecoder
from .memory_attention import MemoryAttention
from .memory_encoder import MemoryEncoder
from .prompt_encoder import PromptEncoder


class ImageEmbedding(NamedTuple):
    """What the prompt heads need from one batch of images.

    embedding: (B, C, h, w) coarsest level (64 x 64 at 1024 input), C = d_model
    high_res: [(B, C/8, 4h, 4w), (B, C/4, 2h, 2w)] finer levels, already projected for the decoder
    position_encoding: (B, C, h, w) sine encoding of the coarsest level
    """

    embedding: torch.Tensor
    high_res: list[torch.Tensor]
    position_encoding: torch.Tensor


class SAM2Model(nn.Module):
    """Attribute names follow the official checkpoints, so their state dicts load unchanged."""

    def __init__(self, cfg: SAM2Config) -> None:
        super().__init__()
        self.cfg = cfg
        d, mem = cfg.d_model, cfg.memory
        trunk = Hiera(cfg.hiera)
        self.image_encoder = ImageEncoder(trunk, FpnNeck(cfg.hiera.stage_dims, d, cfg.fpn_top_down_levels))
        self.sam_prompt_encoder = PromptEncoder(
            d, cfg.embedding_size, cfg.image_size, cfg.decoder.mask_in_chans, cfg.decoder.prompt_pe_scale
        )
        self.sam_mask_decoder = MaskDecoder(d, cfg.decoder)
        self.memory_attention = MemoryAttention(d, mem.mem_dim, mem.attention_layers, mem.attention_ffn_dim, mem.rope_theta)
        self.memory_encoder = MemoryEncoder(d, mem.mem_dim)
        self._init_video_embeddings(cfg)

    def _init_video_embeddings(self, cfg: SAM2Config) -> None:
        d, mem = cfg.d_model, cfg.memory
        self.maskmem_tpos_enc = nn.Parameter(torch.zeros(mem.num_maskmem, 1, 1, mem.mem_dim))
        self.no_mem_embed = nn.Parameter(torch.zeros(1, 1, d))  # added to features of a frame without memory
        self.no_mem_pos_enc = nn.Parameter(torch.zeros(1, 1, d))
        self.no_obj_ptr = nn.Parameter(torch.zeros(1, d))  # the pointer of an object that is absent
        params = [self.maskmem_tpos_enc, self.no_mem_embed, self.no_mem_pos_enc, self.no_obj_ptr]
        if mem.no_obj_embed_spatial:
            self.no_obj_embed_spatial = nn.Parameter(torch.zeros(1, mem.mem_dim))
            params.append(self.no_obj_embed_spatial)
        else:
            self.no_obj_embed_spatial = None
        for p in params:
            trunc_normal_(p, std=0.02)
        self.obj_ptr_proj = MLP(d, d, d, 3)
        if cfg.pointers.project_temporal_encoding:
            self.obj_ptr_tpos_proj = nn.Linear(d, mem.mem_dim)
        else:
            self.obj_ptr_tpos_proj = nn.Identity()
        # Mask prompts enter the memory path at the decoder's output stride (4).
        self.mask_downsample = nn.Conv2d(1, 1, kernel_size=4, stride=4)

    @property
    def device(self) -> torch.device:
        return self.no_mem_embed.device

    def encode_image(self, images: torch.Tensor) -> ImageEmbedding:
        """(B, 3, S, S) normalised images -> ImageEmbedding with the memory-free embedding.

        Without memory, SAM 2 adds `no_mem_embed` to the coarsest level: that is what an image
        (or the first prompted frame of a video) is decoded from.
        """
        return self.memory_free(self.encode_image_raw(images))

    def memory_free(self, raw: ImageEmbedding) -> ImageEmbedding:
        """encode_image_raw's features -> encode_image's (`no_mem_embed` added)."""
        return raw._replace(embedding=raw.embedding + self.no_mem_embed.view(1, -1, 1, 1))

    def encode_image_raw(self, images: torch.Tensor) -> ImageEmbedding:
        """Like encode_image but without `no_mem_embed` (the tracker conditions on memory instead)."""
        levels, encodings = self.image_encoder(images)
        fine, medium, coarse = levels
        high_res = [self.sam_mask_decoder.conv_s0(fine), self.sam_mask_decoder.conv_s1(medium)]
        return ImageEmbedding(coarse, high_res, encodings[-1])

    def decode(
        self,
        image: ImageEmbedding,
        points: tuple[torch.Tensor, torch.Tensor] | None,
        boxes: torch.Tensor | None = None,
        mask_logits: torch.Tensor | None = None,
        multimask: bool = False,
    ) -> DecoderOutput:
        """Prompt encoder + mask decoder for a batch of prompts on one image (or one image per
        prompt). points: ((B, N, 2) (x, y) in model-input pixels, (B, N) labels); boxes (B, 4)
        XYXY; mask_logits (B, 1, 4h, 4w)."""
        sparse, dense = self.sam_prompt_encoder(points, boxes, mask_logits)
        prompted = (prompted_rows(sparse.shape[0], points, boxes, mask_logits, sparse.device)
                    if self.cfg.decoder.prompt_iou_head else None)  # SAM 2's one head needs no rows
        return self.sam_mask_decoder(
            image.embedding, self.sam_prompt_encoder.dense_pe(), sparse, dense, image.high_res, multimask, prompted
        )


def prompted_rows(batch: int, points: tuple[torch.Tensor, torch.Tensor] | None, boxes: torch.Tensor | None,
                  mask_logits: torch.Tensor | None, device: torch.device | str = "cpu") -> torch.Tensor:
    """(batch,) bool on `device`: the rows decoded from a prompt (a click, a box or a mask), against those
    decoded from memory alone (only the padding point, label -1, that SAM 2 decodes with when nothing is given)."""
    if boxes is not None or mask_logits is not None:
        return torch.ones(batch, dtype=torch.bool, device=device)
    if points is None:
        return torch.zeros(batch, dtype=torch.bool, device=device)
    return (points[1] >= 0).any(dim=1).expand(batch).to(device)
