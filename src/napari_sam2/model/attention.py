"""Multi-head attention with separate q/k/v projections, optionally with 2-D rotary encoding."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .rope import rope_angles_2d, rotate, rotations


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
        num_k_rope = k.shape[-2] - num_k_exclude_rope
        if num_k_rope != q.shape[-2] and not self.repeat_keys:
            raise ValueError(f"{num_k_rope} rotary keys for {q.shape[-2]} queries needs repeat_keys=True")
        return self.attend_projected(q, self.project_keys(k, num_k_exclude_rope, q.shape[-2]), self.project_values(v))

    def project_keys(self, k: torch.Tensor, num_k_exclude_rope: int, grid_tokens: int) -> torch.Tensor:
        """(B, M, kv_in_dim) -> (B, heads, M, c) keys, the first M - num_k_exclude_rope rotated by
        their position on a grid of `grid_tokens` tokens (repeated over the frames they hold)."""
        k = self._heads(self.k_proj(k))
        num_k_rope = k.shape[-2] - num_k_exclude_rope
        if num_k_rope:  # in place: no copy of the pointer tokens
            k[:, :, :num_k_rope] = rotate(k[:, :, :num_k_rope], self._rotations(grid_tokens, k.device))
        return k

    def rotated_key_offsets(self, offsets: torch.Tensor, grid_tokens: int) -> torch.Tensor:
        """offsets (S, kv_in_dim), each added to every key input of a grid -> (S, heads, grid_tokens, c)
        what each adds to the rotated keys (the key projection is linear: k_proj(x + o) = k_proj(x) +
        W o, and so is the rotation)."""
        projected = F.linear(offsets, self.k_proj.weight)  # (S, internal)
        grid = self._heads(projected[:, None].expand(-1, grid_tokens, -1))  # (S, heads, grid_tokens, c)
        return rotate(grid, self._rotations(grid_tokens, offsets.device))

    def project_values(self, v: torch.Tensor) -> torch.Tensor:
        """(B, M, kv_in_dim) -> (B, heads, M, c)."""
        return self._heads(self.v_proj(v))

    def attend_projected(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """q (1 or B, N, C) queries on a square grid; k, v (B, heads, M, c) already projected (keys
        rotated, project_keys) -> (B, N, C)."""
        q = self._heads(self.q_proj(q))
        return self._attend(rotate(q, self._rotations(q.shape[-2], q.device)), k, v)
