"""Loading a model by registry name, checkpoint path, or (by default) the embedded model."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch

from ..model import OFFICIAL_CONFIGS, SAM2Model, load_checkpoint
from ..weights import checkpoint_info, ensure_checkpoint, models_dir, official_checkpoints
from .device import default_device

EMBEDDED_MODEL_FILE = "napari_sam2_micro.pt"


def embedded_model_path() -> Path:
    return models_dir() / EMBEDDED_MODEL_FILE


def load_model(
    model: str | Path | None = None,
    device: str | torch.device | None = None,
    cache_dir: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SAM2Model:
    """A SAM 2 model in eval mode.

    model: None for the embedded model shipped in `models/`; an official name such as
    "sam2.1_hiera_tiny" (downloaded once into the cache, SHA-256 checked); or the path of a
    checkpoint file (official or saved by napari-sam2). device: default CUDA, else MPS, else CPU.
    """
    device = default_device() if device is None else device
    if model is None:
        path = embedded_model_path()
        if not path.is_file():
            raise FileNotFoundError(
                f"the embedded model is not in this installation ({path} is missing); "
                f"load an official checkpoint by name ({', '.join(official_checkpoints())}) or by file path"
            )
        return load_checkpoint(path, device=device)
    if str(model) in OFFICIAL_CONFIGS:
        path = ensure_checkpoint(checkpoint_info(str(model)), cache_dir=cache_dir, progress=progress)
        return load_checkpoint(path, config=OFFICIAL_CONFIGS[str(model)], device=device)
    if Path(model).is_file():
        return load_checkpoint(model, device=device)
    raise ValueError(
        f"{model!r} is neither an official model name nor an existing checkpoint file; "
        f"official names: {', '.join(official_checkpoints())}"
    )
