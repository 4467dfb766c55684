"""Small building blocks shared by several SAM 2 modules."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class MLP(nn.Module):
    """A stack of linear layers with an activation between them (not after the last).

    The layers live in `self.layers` so that checkpoint keys read `<name>.layers.<i>.weight`.
    """

    def __init__(
        self,
        in_dim: int,
        hidden_dim: int,
        out_dim: int,
        num_layers: int,
        activation: type[nn.Module] = nn.ReLU,
        sigmoid_output: bool = False,
    ) -> None:
        super().__init__()
        dims = [in_dim] + [hidden_dim] * (num_layers - 1) + [out_dim]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.act = activation()
        self.sigmoid_output = sigmoid_output

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        *hidden, last = self.layers
        for layer in hidden:
            x = self.act(layer(x))
        x = last(x)
        return torch.sigmoid(x) if self.sigmoid_output else x


def in_float32(device: torch.device):
    """A region computed in float32 even under reduced-precision autocast (final logits)."""
    return torch.autocast(device_type=device.type, enabled=False)


class LayerNorm2d(nn.Module):
    """LayerNorm over the channel axis of a (B, C, H, W) tensor.

    One fused pass with channels last (a (B, C, H, W) view of (B, H, W, C) memory, which the next
    convolution takes as it is), rather than the five elementwise passes of writing it out: on
    batches of masks larger than the CPU's caches those passes cost more than the convolutions.
    Below FEW_CHANNELS channels (the memory encoder's first layer, 4 channels at half the input
    size) the fused kernel spends its time on rows shorter than a vector register: there the
    passes over whole channel planes are faster (8x measured on 20 objects' masks)."""

    FEW_CHANNELS = 8

    def __init__(self, num_channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(num_channels))
        self.bias = nn.Parameter(torch.zeros(num_channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] >= self.FEW_CHANNELS:
            normed = F.layer_norm(x.permute(0, 2, 3, 1), self.weight.shape, self.weight, self.bias, self.eps)
            return normed.permute(0, 3, 1, 2)
        x = x.float()  # as F.layer_norm under autocast
        centred = x - x.mean(1, keepdim=True)
        scale = (centred.square().mean(1, keepdim=True) + self.eps).rsqrt()
        return centred * scale * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


class DropPath(nn.Module):
    """Stochastic depth: drops whole residual branches per sample while training."""

    def __init__(self, drop_prob: float = 0.0) -> None:
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.drop_prob == 0.0 or not self.training:
            return x
        keep = 1.0 - self.drop_prob
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep


def activation_fn(name: str):
    """The functional activation for a name used in configurations."""
    table = {"relu": F.relu, "gelu": F.gelu}
    if name not in table:
        raise ValueError(f"unknown activation {name!r}; expected one of {sorted(table)}")
    return table[name]
