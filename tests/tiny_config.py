"""A very small SAM 2 configuration for fast tests (a plain module: conftest names clash)."""
from napari_sam2.model import DecoderConfig, HieraConfig, MemoryConfig, SAM2Config

MICRO_TEST_CONFIG = SAM2Config(
    name="test_micro",
    hiera=HieraConfig(
        embed_dim=16, num_heads=1, stages=(1, 1, 2, 1), global_attention_blocks=(3,),
        window_sizes=(8, 4, 4, 4), background_pos_size=(4, 4),
    ),
    image_size=256,
    d_model=32,
    decoder=DecoderConfig(transformer_mlp_dim=64, iou_head_hidden_dim=32),
    memory=MemoryConfig(mem_dim=16, attention_layers=2, attention_ffn_dim=64, no_obj_embed_spatial=True),
)


