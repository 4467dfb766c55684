"""Official SAM 2 checkpoints: what exists (registry) and getting a verified local copy (download)."""

from .download import (
    CheckpointDownloadError,
    default_cache_dir,
    ensure_checkpoint,
    sha256_of_file,
)
from .registry import (
    CheckpointInfo,
    checkpoint_info,
    models_dir,
    official_checkpoints,
)

__all__ = [
    "CheckpointDownloadError",
    "CheckpointInfo",
    "checkpoint_info",
    "default_cache_dir",
    "ensure_checkpoint",
    "models_dir",
    "official_checkpoints",
    "sha256_of_file",
]
