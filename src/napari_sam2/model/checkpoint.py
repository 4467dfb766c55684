"""Reading checkpoint files safely and matching them to a configuration.

Official files hold `{"model": state_dict}`; ours add `"config": SAM2Config.to_dict()` so that
custom sizes describe themselves. Files are read with `weights_only=True`: a pickle that
carries code is refused, never executed.
"""
from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import torch

from .config import OFFICIAL_CONFIGS, SAM2Config
from .sam2 import SAM2Model


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used, with what to do about it."""


# What torch.save writes first: a zip archive (since torch 1.6), or a pickle (the legacy format,
# which opens with the pickle protocol opcode). Anything else is not a checkpoint.
CHECKPOINT_MAGIC = (b"PK\x03\x04", b"\x80")
SAM21_KEYS = ("no_obj_embed_spatial", "obj_ptr_tpos_proj.weight")  # keys only SAM 2.1 models have


def read_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], SAM2Config | None]:
    """Returns the state dict and, when the file stores one, its configuration."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint file at {path}; check the path, or load an official model by name")
    _check_magic(path)
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise CheckpointError(
            f"refused to load {path}: it holds Python objects other than tensors and plain data, "
            f"which could run code when unpickled ({str(err).splitlines()[0]}). Load only files from "
            "sources you trust; re-save the model's state_dict() with torch.save to make a safe file."
        ) from err
    except (RuntimeError, EOFError, OSError, KeyError, IndexError, ValueError) as err:
        raise CheckpointError(
            f"cannot read {path} ({path.stat().st_size} bytes) as a PyTorch checkpoint: {err}. The file is "
            "probably truncated (an interrupted download) or not a checkpoint; download it again."
        ) from err
    return _unwrap(content, path)


def _check_magic(path: Path) -> None:
    with open(path, "rb") as f:
        start = f.read(8)
    if start and not start.startswith(CHECKPOINT_MAGIC):
        raise CheckpointError(
            f"{path} is not a PyTorch checkpoint: it starts with {start!r}, not as a file written by "
            "torch.save does. Choose the checkpoint (.pt) file itself, or load an official model by name."
        )


def _unwrap(content, path: Path) -> tuple[dict[str, torch.Tensor], SAM2Config | None]:
    if not isinstance(content, dict):
        raise CheckpointError(f"{path} holds a {type(content).__name__}, not a state dict")
    state = content.get("model", content)
    config = SAM2Config.from_dict(content["config"]) if isinstance(content.get("config"), dict) else None
    if not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path} is not a SAM 2 checkpoint: its 'model' entry is not a dict of tensors")
    return state, config


def infer_config(state: dict[str, torch.Tensor]) -> SAM2Config:
    """The official configuration whose trunk and version match a state dict's keys and shapes."""
    signature = _signature(state)
    for cfg in OFFICIAL_CONFIGS.values():
        if _config_signature(cfg) == signature:
            return cfg
    raise CheckpointError(
        f"the weights match no official SAM 2 configuration (trunk width {signature[0]}, blocks per "
        f"stage {signature[1]}, SAM 2.1 keys {signature[2]}). If this is a custom model, pass its "
        "SAM2Config explicitly, or save it with napari_sam2.model.save_checkpoint so it carries its configuration."
    )


def _signature(state: dict[str, torch.Tensor]) -> tuple[int, tuple[int, ...], bool]:
    key = "image_encoder.trunk.patch_embed.proj.weight"
    if key not in state:
        raise CheckpointError(f"this is not a SAM 2 state dict: it has no {key!r} (first keys: {list(state)[:5]})")
    num_blocks = 1 + max(int(k.split(".")[3]) for k in state if k.startswith("image_encoder.trunk.blocks."))
    starts = sorted(int(k.split(".")[3]) for k in state
                    if k.startswith("image_encoder.trunk.blocks.") and k.endswith(".proj.weight") and ".attn." not in k)
    bounds = [0, *starts, num_blocks]
    stages = tuple(b - a for a, b in zip(bounds[:-1], bounds[1:]))
    return state[key].shape[0], stages, any(k in state for k in SAM21_KEYS)


def _config_signature(cfg: SAM2Config) -> tuple[int, tuple[int, ...], bool]:
    return cfg.hiera.embed_dim, tuple(cfg.hiera.stages), cfg.memory.no_obj_embed_spatial or cfg.pointers.project_temporal_encoding


def load_into(model: SAM2Model, state: dict[str, torch.Tensor]) -> None:
    """Strict load that explains a mismatch: missing, unexpected and mis-shaped keys."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    misshaped = [f"{k}: file {tuple(state[k].shape)} vs model {tuple(own[k].shape)}"
                 for k in own if k in state and state[k].shape != own[k].shape]
    if missing or unexpected or misshaped:
        raise CheckpointError(_mismatch_message(model.cfg, state, missing, unexpected, misshaped))
    model.load_state_dict(state, strict=True)


def _mismatch_message(cfg, state, missing, unexpected, misshaped) -> str:
    def listed(title, items):
        return f"\n  {len(items)} {title}: " + ", ".join(items[:6]) + (" ..." if len(items) > 6 else "") if items else ""

    return (
        f"the checkpoint does not fit configuration {cfg.name}:"
        + listed("missing keys", missing)
        + listed("unexpected keys", unexpected)
        + listed("keys of another shape", misshaped)
        + _what_the_file_looks_like(cfg, state)
    )


def _what_the_file_looks_like(cfg: SAM2Config, state: dict[str, torch.Tensor]) -> str:
    """Another configuration to try, or, when the file's trunk and version are those of `cfg`
    itself, that the file is damaged (never "does not fit X ... looks like X")."""
    try:
        inferred = infer_config(state)
    except CheckpointError:
        return ""
    if inferred.name != cfg.name:
        return f" The file looks like {inferred.name}; load it with that configuration."
    return (
        f" The file has the trunk and version of {cfg.name} but not exactly its keys: it is incomplete or "
        "was modified. Download it again, or load the file it was made from."
    )


def load_checkpoint(path: str | Path, config: SAM2Config | None = None, device: str | torch.device = "cpu") -> SAM2Model:
    """Build a model for a checkpoint file and load it strictly, in eval mode.

    The configuration is, in order: the one given, the one stored in the file, or the official
    one inferred from the weights.
    """
    state, stored = read_checkpoint(path)
    cfg = config or stored or infer_config(state)
    model = SAM2Model(cfg)
    load_into(model, state)
    return model.to(device).eval()


def save_checkpoint(model: SAM2Model, path: str | Path, **extra) -> None:
    """Save weights with their configuration, so the file describes itself."""
    torch.save({"model": model.state_dict(), "config": model.cfg.to_dict(), **extra}, Path(path))


def model_fingerprint(model: SAM2Model) -> str:
    """A hash of a model's configuration and current weights, so that features cached on disk
    are never reused with other weights (about 0.3 s for the tiny model)."""
    h = hashlib.blake2b(digest_size=12)
    h.update(repr(model.cfg).encode())
    for name, tensor in model.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()
