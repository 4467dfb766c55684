"""Memory attention: conditions the current frame's features on the memory bank.

Each layer: self-attention over the frame (RoPE), cross-attention to the memories (RoPE on
spatial memories, none on object-pointer tokens), then an MLP; pre-norm throughout.
"""
from __future__ import annotations

import torch
from torch import nn

from .attention import RoPEAttention
from .common import activation_fn


class MemoryAttentionLayer(nn.Module):
    def __init__(self, d_model: int, mem_dim: int, ffn_dim: int, rope_theta: float, dropout: float = 0.1) -> None:
        super().__init__()
        self.self_attn = RoPEAttention(d_model, 1, dropout=dropout, rope_theta=rope_theta)
        self.cross_attn_image = RoPEAttention(
            d_model, 1, dropout=dropout, rope_theta=rope_theta, repeat_keys=True, kv_in_dim=mem_dim
        )
        self.linear1 = nn.Linear(d_model, ffn_dim)
        self.linear2 = nn.Linear(ffn_dim, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.norm3 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.dropout3 = nn.Dropout(dropout)
        self.activation = activation_fn("relu")

    def forward(self, x: torch.Tensor, keys: torch.Tensor, memory: torch.Tensor, num_pointer_tokens: int) -> torch.Tensor:
        """x (B or 1, HW, C); keys (B, M, mem_dim): the memory with its position encoding added;
        memory (B, M, mem_dim) -> (B, HW, C)."""
        normed = self.norm1(x)
        x = x + self.dropout1(self.self_attn(normed, normed, normed))
        normed = self.norm2(x)
        attended = self.cross_attn_image(normed, keys, memory, num_k_exclude_rope=num_pointer_tokens)
        x = x + self.dropout2(attended)
        hidden = self.dropout(self.activation(self.linear1(self.norm3(x))))
        return x + self.dropout3(self.linear2(hidden))


class MemoryAttention(nn.Module):
    def __init__(self, d_model: int, mem_dim: int, num_layers: int, ffn_dim: int, rope_theta: float) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            MemoryAttentionLayer(d_model, mem_dim, ffn_dim, rope_theta) for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(d_model)

    def forward(
        self,
        features: torch.Tensor,
        features_pe: torch.Tensor,
        memory: torch.Tensor,
        memory_pe: torch.Tensor,
        num_pointer_tokens: int = 0,
    ) -> torch.Tensor:
        """features, features_pe (B or 1, HW, C): the current frame's coarsest level, flattened;
        memory (B, M, mem_dim), memory_pe (1 or B, M, mem_dim): spatial memories, then `num_pointer_tokens`
        object-pointer tokens last. Returns (B, HW, C).

        With features of batch 1 (one frame, B objects) the first layer's self-attention, which
        sees only the frame, runs once for all objects: they differ from its cross-attention on."""
        x = features + 0.1 * features_pe  # a light position cue at the input only
        keys = memory + memory_pe  # (the same in every layer)
        for layer in self.layers:
            x = layer(x, keys, memory, num_pointer_tokens)
        return self.norm(x)
