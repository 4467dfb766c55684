"""Multi-head attention with separate q/k/v projections, optionally with 2-D rotary encoding."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .rope import rope_angles_2d, rotate_, rotations


class Attention(nn.Module):
    """Attention that may project to a narrower internal width (`downsample_rate`) and take
    keys/values of another width (`kv_in_dim`)."""

    def __init__(
        self,
        embedding_dim: int,
        num_heads: int,
        downsample_rate: int = 1,
        dropout: float = 0.0,
        kv_in_dim: int | None = None,
    ) -> None:
        super().__init__()
        kv_in_dim = kv_in_dim or embedding_dim
        self.internal_dim = embedding_dim // downsample_rate
        if self.internal_dim % num_heads:
            raise ValueError(f"{num_heads} heads do not divide the internal width {self.internal_dim}")
        self.num_heads = num_heads
        self.dropout = dropout
        self.q_proj = nn.Linear(embedding_dim, self.internal_dim)
        self.k_proj = nn.Linear(kv_in_dim, self.internal_dim)
        self.v_proj = nn.Linear(kv_in_dim, self.internal_dim)
        self.out_proj = nn.Linear(self.internal_dim, embedding_dim)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, N, C) -> (B, heads, N, C / heads)."""
        B, N, C = x.shape
        return x.reshape(B, N, self.num_heads, C // self.num_heads).transpose(1, 2)

    def _attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """q (1 or B, heads, N, c): queries shared by every row of k, v (B, heads, M, c) are
        projected (and rotated) once, then broadcast."""
        if q.shape[0] != k.shape[0]:
            q = q.expand(k.shape[0], -1, -1, -1)
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0)
        B, H, N, C = out.shape
        return self.out_proj(out.transpose(1, 2).reshape(B, N, H * C))

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return self._attend(self._heads(self.q_proj(q)), self._heads(self.k_proj(k)), self._heads(self.v_proj(v)))


class RoPEAttention(Attention):
    """Attention whose queries and keys are rotated by their (x, y) position on a square grid.

    Keys may hold several grids one after another (memories of several frames: `repeat_keys`),
    followed by `num_k_exclude_rope` tokens without a position (object pointers).
    """

    def __init__(self, *args, rope_theta: float = 10000.0, repeat_keys: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.rope_theta = rope_theta
        self.repeat_keys = repeat_keys
        self._rotation_cache: dict[tuple[int, str], torch.Tensor] = {}

    def _rotations(self, num_queries: int, device) -> torch.Tensor:
        """(num_queries, head_dim / 2) complex rotations of a square grid, cached per size."""
        side = int(round(num_queries**0.5))
        if side * side != num_queries:
            raise ValueError(f"rotary attention needs a square grid of queries, got {num_queries} tokens")
        key = (side, str(device))
        if key not in self._rotation_cache:
            head_dim = self.internal_dim // self.num_heads
            self._rotation_cache[key] = rotations(rope_angles_2d(head_dim, side, side, self.rope_theta)).to(device)
        return self._rotation_cache[key]

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, num_k_exclude_rope: int = 0) -> torch.Tensor:
        q, k, v = self._heads(self.q_proj(q)), self._heads(self.k_proj(k)), self._heads(self.v_proj(v))
        rotation = self._rotations(q.shape[-2], q.device)  # (N_q, head_dim / 2) complex
        num_k_rope = k.shape[-2] - num_k_exclude_rope
        if num_k_rope != q.shape[-2] and not self.repeat_keys:
            raise ValueError(f"{num_k_rope} rotary keys for {q.shape[-2]} queries needs repeat_keys=True")
        q = rotate_(q, rotation)
        spatial = k[:, :, :num_k_rope]  # (the pointer tokens after them are not rotated)
        rotated = rotate_(spatial, rotation)
        if rotated is not spatial:  # a rotated copy: written back
            spatial.copy_(rotated)
        return self._attend(q, k, v)
