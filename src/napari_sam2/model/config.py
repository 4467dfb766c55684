"""Configurations of SAM 2 models as frozen dataclasses, with one builder per official size.

Flags are grouped by what they mean rather than passed as one long argument list:
the trunk (HieraConfig), the prompt heads (DecoderConfig), the memory (MemoryConfig)
and the object pointers (ObjectPointerConfig).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class HieraConfig:
    embed_dim: int = 96
    num_heads: int = 1
    stages: tuple[int, ...] = (1, 2, 7, 2)
    global_attention_blocks: tuple[int, ...] = (5, 7, 9)
    window_sizes: tuple[int, ...] = (8, 4, 14, 7)  # attention window per stage
    background_pos_size: tuple[int, int] = (7, 7)  # coarse position embedding, interpolated
    q_pool_stages: int = 3
    q_stride: int = 2
    dim_mul: float = 2.0
    head_mul: float = 2.0
    mlp_ratio: float = 4.0
    drop_path_rate: float = 0.0

    @property
    def stage_dims(self) -> tuple[int, ...]:
        """Channels of each stage's output, finest first."""
        return tuple(int(self.embed_dim * self.dim_mul**i) for i in range(len(self.stages)))


@dataclass(frozen=True)
class DecoderConfig:
    """The SAM prompt encoder and two-way mask decoder."""

    transformer_depth: int = 2
    transformer_heads: int = 8
    transformer_mlp_dim: int = 2048
    iou_head_hidden_dim: int = 256
    num_multimask_outputs: int = 3
    mask_in_chans: int = 16
    prompt_pe_scale: float = 1.0  # spread of the prompts' random Fourier frequencies (at initialisation)
    # When one mask is asked for and it is unstable, fall back to the best of the three.
    stability_delta: float = 0.05
    stability_threshold: float = 0.98
    # A second IoU head that ranks the masks of prompted decodes (clicks, boxes, mask prompts), the first
    # then ranking only those decoded from memory alone (tracked frames). Not in SAM 2: each can be fitted
    # to its own case (models/MODEL_CARD.md: re-fitted on clicks, the one head chose worse on tracked frames).
    prompt_iou_head: bool = False


@dataclass(frozen=True)
class MemoryConfig:
    mem_dim: int = 64
    num_maskmem: int = 7  # the prompted frame plus 6 recent frames
    attention_layers: int = 4
    attention_ffn_dim: int = 2048
    rope_theta: float = 10000.0
    sigmoid_scale: float = 20.0  # mask logits -> memory encoder input: sigmoid(x) * scale + bias
    sigmoid_bias: float = -10.0
    no_obj_embed_spatial: bool = False  # SAM 2.1: a learnt embedding added to occluded memories


@dataclass(frozen=True)
class ObjectPointerConfig:
    max_pointers: int = 16
    temporal_encoding: bool = False  # add a temporal position encoding to each pointer
    project_temporal_encoding: bool = False  # SAM 2.1: through obj_ptr_tpos_proj
    signed_temporal_encoding: bool = False  # SAM 2.1: distinguish past from future frames
    only_past_in_eval: bool = True


@dataclass(frozen=True)
class SAM2Config:
    name: str
    hiera: HieraConfig = field(default_factory=HieraConfig)
    image_size: int = 1024
    d_model: int = 256  # width of the FPN neck, prompt heads and memory attention
    backbone_stride: int = 16
    fpn_top_down_levels: tuple[int, ...] = (2, 3)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    memory: MemoryConfig = field(default_factory=MemoryConfig)
    pointers: ObjectPointerConfig = field(default_factory=ObjectPointerConfig)

    @property
    def embedding_size(self) -> int:
        """Side of the lowest-resolution feature map fed to the mask decoder (64 at 1024)."""
        return self.image_size // self.backbone_stride

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "SAM2Config":
        """Rebuild a configuration stored in a checkpoint (tuples come back as lists)."""

        def tuples(d: dict) -> dict:
            return {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}

        return cls(
            name=data["name"],
            hiera=HieraConfig(**tuples(data["hiera"])),
            image_size=data["image_size"],
            d_model=data["d_model"],
            backbone_stride=data["backbone_stride"],
            fpn_top_down_levels=tuple(data["fpn_top_down_levels"]),
            decoder=DecoderConfig(**data["decoder"]),
            memory=MemoryConfig(**data["memory"]),
            pointers=ObjectPointerConfig(**data["pointers"]),
        )


HIERA_SIZES: dict[str, HieraConfig] = {
    "tiny": HieraConfig(96, 1, (1, 2, 7, 2), (5, 7, 9), (8, 4, 14, 7), (7, 7)),
    "small": HieraConfig(96, 1, (1, 2, 11, 2), (7, 10, 13), (8, 4, 14, 7), (7, 7)),
    "base_plus": HieraConfig(112, 2, (2, 3, 16, 3), (12, 16, 20), (8, 4, 14, 7), (14, 14)),
    "large": HieraConfig(144, 2, (2, 6, 36, 4), (23, 33, 43), (8, 4, 16, 8), (7, 7)),
}


def sam2_config(size_name: str) -> SAM2Config:
    """SAM 2 (July 2024) configuration of one size."""
    return SAM2Config(name=f"sam2_hiera_{size_name}", hiera=HIERA_SIZES[size_name])


def sam21_config(size_name: str) -> SAM2Config:
    """SAM 2.1 (September 2024): adds the occlusion embedding and signed, projected pointer times."""
    return SAM2Config(
        name=f"sam2.1_hiera_{size_name}",
        hiera=HIERA_SIZES[size_name],
        memory=MemoryConfig(no_obj_embed_spatial=True),
        pointers=ObjectPointerConfig(
            temporal_encoding=True, project_temporal_encoding=True, signed_temporal_encoding=True
        ),
    )


def sam2_hiera_tiny() -> SAM2Config:
    return sam2_config("tiny")


def sam2_hiera_small() -> SAM2Config:
    return sam2_config("small")


def sam2_hiera_base_plus() -> SAM2Config:
    return sam2_config("base_plus")


def sam2_hiera_large() -> SAM2Config:
    return sam2_config("large")


def sam21_hiera_tiny() -> SAM2Config:
    return sam21_config("tiny")


def sam21_hiera_small() -> SAM2Config:
    return sam21_config("small")


def sam21_hiera_base_plus() -> SAM2Config:
    return sam21_config("base_plus")


def sam21_hiera_large() -> SAM2Config:
    return sam21_config("large")


OFFICIAL_CONFIGS = {
    cfg.name: cfg
    for cfg in (
        sam2_hiera_tiny(), sam2_hiera_small(), sam2_hiera_base_plus(), sam2_hiera_large(),
        sam21_hiera_tiny(), sam21_hiera_small(), sam21_hiera_base_plus(), sam21_hiera_large(),
    )
}


def micro_config() -> SAM2Config:
    """The embedded model's configuration: a ~2 M-parameter SAM 2.1 at 256 x 256, trained from
    scratch on simulated microscopy (see models/MODEL_CARD.md)."""
    return SAM2Config(
        name="napari_sam2_micro",
        hiera=HieraConfig(
            embed_dim=32, num_heads=1, stages=(1, 1, 2, 1), global_attention_blocks=(3,),
            window_sizes=(8, 4, 8, 8), background_pos_size=(8, 8),
        ),
        image_size=256,
        d_model=64,
        # One head: each head of 8 would see 4 dimensions of the 32-wide token<->image attention, too
        # few to match a click's position encoding to the grid's (see training/initialization.py).
        decoder=DecoderConfig(transformer_heads=1, transformer_mlp_dim=256, iou_head_hidden_dim=64),
        memory=MemoryConfig(mem_dim=32, attention_layers=2, attention_ffn_dim=256, no_obj_embed_spatial=True),
        pointers=ObjectPointerConfig(temporal_encoding=True, project_temporal_encoding=True, signed_temporal_encoding=True),
    )
