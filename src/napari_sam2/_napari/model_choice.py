"""The model menu of the widget: the embedded model, an official checkpoint, or a file."""
from __future__ import annotations

from pathlib import Path

from ..engine import load_model
from ..weights import official_checkpoints

EMBEDDED = "embedded model (offline)"
CHECKPOINT_FILE = "checkpoint file..."


def model_choices() -> list[str]:
    return [EMBEDDED, *official_checkpoints(), CHECKPOINT_FILE]


def load_chosen_model(choice: str, checkpoint_path: str = "", progress=None):
    """The model for a menu entry (official ones are downloaded once, then cached);
    `progress(bytes_done, total_bytes)` follows a download."""
    if choice == EMBEDDED:
        return load_model(None)
    if choice == CHECKPOINT_FILE:
        if not checkpoint_path.strip():
            raise ValueError("no checkpoint file chosen: pick a .pt file with 'Browse...', or choose another model")
        path = Path(checkpoint_path.strip()).expanduser()
        if not path.is_file():
            raise ValueError(f"the checkpoint file {path} does not exist: pick an existing .pt file")
        return load_model(path)
    return load_model(choice, progress=progress)
