"""The reference implementation (PyPI `sam2` 1.1.0), the oracle of parity tests and benchmarks only
(a test-only dependency, imported when a reference model is built)."""
from __future__ import annotations

import torch

REFERENCE_CONFIG_FILES = {
    "sam2_hiera_tiny": "configs/sam2/sam2_hiera_t.yaml",
    "sam2_hiera_small": "configs/sam2/sam2_hiera_s.yaml",
    "sam2_hiera_base_plus": "configs/sam2/sam2_hiera_b+.yaml",
    "sam2_hiera_large": "configs/sam2/sam2_hiera_l.yaml",
    "sam2.1_hiera_tiny": "configs/sam2.1/sam2.1_hiera_t.yaml",
    "sam2.1_hiera_small": "configs/sam2.1/sam2.1_hiera_s.yaml",
    "sam2.1_hiera_base_plus": "configs/sam2.1/sam2.1_hiera_b+.yaml",
    "sam2.1_hiera_large": "configs/sam2.1/sam2.1_hiera_l.yaml",
}


def build_reference(name: str):
    """The reference model of an official configuration, random weights, eval mode, CPU."""
    from sam2.build_sam import build_sam2

    return build_sam2(REFERENCE_CONFIG_FILES[name], None, device="cpu", mode="eval")


def randomize(model: torch.nn.Module, seed: int, noise: float = 0.02) -> dict[str, torch.Tensor]:
    """Perturb every floating tensor of the model's state dict by seeded Gaussian noise, so that
    zero- or constant-initialised weights (position embeddings, tokens, layer scales) matter too.
    Returns the new state dict, already loaded into `model`."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, value in model.state_dict().items():
        if value.is_floating_point():
            value = value + noise * torch.randn(value.shape, generator=generator)
        state[key] = value.clone()
    model.load_state_dict(state, strict=True)
    return state
