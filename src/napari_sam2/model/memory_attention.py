"""Memory attention: conditions the current frame's features on the memory bank.

Each layer: self-attention over the frame (RoPE), cross-attention to the memories (RoPE on
spatial memories, none on object-pointer tokens), then an MLP; pre-norm throughout.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import torch
from torch import nn

from .attention import RoPEAttention
from .common import activation_fn


class LayerMemory(NamedTuple):
    """The memory as one layer's cross-attention takes it: projected, spatial keys rotated."""

    keys: torch.Tensor  # (B, heads, M, c)
    values: torch.Tensor  # (B, heads, M, c)


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

    def forward(self, x: torch.Tensor, memory: LayerMemory) -> torch.Tensor:
        """x (B or 1, HW, C); memory: this layer's projection of (B, M) memory tokens -> (B, HW, C)."""
        normed = self.norm1(x)
        x = x + self.dropout1(self.self_attn(normed, normed, normed))
        normed = self.norm2(x)
        x = x + self.dropout2(self.cross_attn_image.attend_projected(normed, *memory))
        hidden = self.dropout(self.activation(self.linear1(self.norm3(x))))
        return x + self.dropout3(self.linear2(hidden))

    def project_memory(self, keys: torch.Tensor, memory: torch.Tensor, num_pointer_tokens: int,
                       grid_tokens: int) -> LayerMemory:
        """keys (B, M, mem_dim): the memory with its position encoding added; memory (B, M, mem_dim)."""
        attention = self.cross_attn_image
        return LayerMemory(attention.project_keys(keys, num_pointer_tokens, grid_tokens), attention.project_values(memory))


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
        memory: torch.Tensor | Callable[[int], LayerMemory],
        memory_pe: torch.Tensor | None = None,
        num_pointer_tokens: int = 0,
    ) -> torch.Tensor:
        """features, features_pe (B or 1, HW, C): the current frame's coarsest level, flattened;
        memory (B, M, mem_dim), memory_pe (1 or B, M, mem_dim): spatial memories, then `num_pointer_tokens`
        object-pointer tokens last. Returns (B, HW, C). Or memory given as each layer's projection of
        it (a function of the layer's index, as `projector` makes; projections made once may be kept,
        as the tracker does: engine/memory_projection.py), memory_pe then None.

        With features of batch 1 (one frame, B objects) the first layer's self-attention, which
        sees only the frame, runs once for all objects: they differ from its cross-attention on."""
        layer_memory = memory if callable(memory) else self.projector(memory, memory_pe, num_pointer_tokens, features.shape[1])
        x = features + 0.1 * features_pe  # a light position cue at the input only
        for i, layer in enumerate(self.layers):
            x = layer(x, layer_memory(i))
        return self.norm(x)

    def projector(self, memory: torch.Tensor, memory_pe: torch.Tensor, num_pointer_tokens: int,
                  grid_tokens: int) -> Callable[[int], LayerMemory]:
        """Layer i -> its projection of memory tokens (as forward takes them) on a grid of grid_tokens."""
        keys = memory + memory_pe  # (the same in every layer)
        return lambda i: self.layers[i].project_memory(keys, memory, num_pointer_tokens, grid_tokens)

    def spatial_projections(self, memory: torch.Tensor, position_encoding: torch.Tensor) -> list[LayerMemory]:
        """Each layer's projection of spatial memories (B, hw, mem_dim) on the frame's grid with their
        position encoding (1, hw, mem_dim), without the temporal encoding (see temporal_keys)."""
        keys = memory + position_encoding
        return [layer.project_memory(keys, memory, 0, memory.shape[1]) for layer in self.layers]

    def temporal_keys(self, encodings: torch.Tensor, grid_tokens: int) -> list[torch.Tensor]:
        """What each temporal encoding (S, mem_dim) adds to a spatial projection's keys, per layer
        (S, heads, grid_tokens, c): keys of memory + pe + encoding = spatial_projections' keys + this."""
        return [layer.cross_attn_image.rotated_key_offsets(encodings, grid_tokens) for layer in self.layers]

    def pointer_projections(self, pointers: torch.Tensor, position_encoding: torch.Tensor) -> list[LayerMemory]:
        """Each layer's projection of pointer tokens (B, P, mem_dim) with their encodings (1 or B, P, mem_dim)."""
        keys = pointers + position_encoding
        return [layer.project_memory(keys, pointers, pointers.shape[1], 0) for layer in self.layers]
