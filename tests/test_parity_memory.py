"""Parity of the modules the video tracker will use: memory encoder and memory attention (with
2-D RoPE, object-pointer tokens excluded from it), same random weights as the reference."""
import pytest
import torch

from napari_sam2.model import OFFICIAL_CONFIGS, SAM2Model, load_into
from napari_sam2.testing.reference import build_reference, randomize

TOL = 1e-4


@pytest.fixture(scope="module", params=["sam2.1_hiera_tiny", "sam2_hiera_tiny"])
def models(request):
    torch.manual_seed(5)
    reference = build_reference(request.param)
    state = randomize(reference, 5)
    ours = SAM2Model(OFFICIAL_CONFIGS[request.param])
    load_into(ours, state)
    return reference, ours.eval()


def test_every_official_module_is_present(models):
    reference, ours = models
    assert set(reference.state_dict()) == set(ours.state_dict())


@torch.no_grad()
def test_memory_encoder(models):
    reference, ours = models
    g = torch.Generator().manual_seed(1)
    features = torch.randn(2, 256, 64, 64, generator=g)
    mask_logits = torch.randn(2, 1, 1024, 1024, generator=g) * 5
    squashed = torch.sigmoid(mask_logits) * 20.0 - 10.0  # what the tracker feeds the encoder
    ref = reference.memory_encoder(features, squashed, skip_mask_sigmoid=True)
    memory, memory_pe = ours.memory_encoder(features, squashed)
    assert memory.shape == (2, 64, 64, 64)
    assert (ref["vision_features"] - memory).abs().max() <= TOL
    assert (ref["vision_pos_enc"][0] - memory_pe).abs().max() <= TOL


@torch.no_grad()
@pytest.mark.parametrize("num_frames, num_pointers", [(1, 0), (3, 4), (7, 16)])
def test_memory_attention(models, num_frames, num_pointers):
    reference, ours = models
    g = torch.Generator().manual_seed(num_frames)
    hw, batch = 64 * 64, 2
    current = torch.randn(hw, batch, 256, generator=g)
    current_pe = torch.randn(hw, batch, 256, generator=g)
    memory = torch.randn(num_frames * hw + num_pointers, batch, 64, generator=g)
    memory_pe = torch.randn(num_frames * hw + num_pointers, batch, 64, generator=g)
    ref = reference.memory_attention(
        curr=[current], curr_pos=[current_pe], memory=memory, memory_pos=memory_pe, num_obj_ptr_tokens=num_pointers
    )  # (HW, B, C)
    out = ours.memory_attention(
        current.transpose(0, 1), current_pe.transpose(0, 1), memory.transpose(0, 1), memory_pe.transpose(0, 1), num_pointers
    )  # (B, HW, C)
    assert (ref.transpose(0, 1) - out).abs().max() <= TOL
