"""SAM 2 / SAM 2.1 in plain PyTorch: no napari, no file formats beyond checkpoints."""
from .checkpoint import (
    CheckpointError,
    infer_config,
    load_checkpoint,
    load_into,
    model_fingerprint,
    read_checkpoint,
    save_checkpoint,
)
from .config import (
    OFFICIAL_CONFIGS,
    DecoderConfig,
    HieraConfig,
    MemoryConfig,
    ObjectPointerConfig,
    SAM2Config,
    micro_config,
    sam2_config,
    sam21_config,
)
from .image_encoder import PyramidFeatures
from .mask_decoder import DecoderOutput
from .prompt_iou_head import with_prompt_iou_head
from .sam2 import ImageEmbedding, SAM2Model

__all__ = [
    "CheckpointError", "DecoderConfig", "DecoderOutput", "HieraConfig", "ImageEmbedding", "MemoryConfig",
    "OFFICIAL_CONFIGS", "ObjectPointerConfig", "PyramidFeatures", "SAM2Config", "SAM2Model",
    "infer_config", "load_checkpoint", "micro_config", "model_fingerprint", "load_into", "read_checkpoint", "sam2_config",
    "sam21_config",
    "save_checkpoint", "with_prompt_iou_head",
]
