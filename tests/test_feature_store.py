"""The on-disk feature cache: reused when everything matches, never served stale."""

import pytest
import torch

from napari_sam2.engine.frames import ArrayFrames
from napari_sam2.engine.preprocessing import Normalization
from napari_sam2.engine.video_tracker import VideoTracker
from napari_sam2.model import SAM2Model
from napari_sam2.storage import ZarrFeatureStore
from napari_sam2.testing.synthetic import moving_nuclei_video
from tiny_config import MICRO_TEST_CONFIG


@pytest.fixture(scope="module")
def frames():
    return moving_nuclei_video(5, 96, 128, 2, seed=4)[0]


def run(model, frames, store, **kwargs):
    tracker = VideoTracker(model, ArrayFrames(frames), feature_store=store, **kwargs)
    tracker.add_points(0, 1, [[60, 50]], [1])
    logits = [r.low_res_logits for r in tracker.propagate()]
    return tracker.features.computed, logits


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_second_session_reuses_features_exactly(micro_model, frames, tmp_path, precision):
    """Also in bfloat16 ("auto" on AMX): features come back from disk in the dtype they were
    computed in, so the second session's masks are the first's to the bit."""
    computed, first = run(micro_model, frames, ZarrFeatureStore(tmp_path / "cache.zarr"), precision=precision)
    assert computed == 5
    computed, second = run(micro_model, frames, ZarrFeatureStore(tmp_path / "cache.zarr"), precision=precision)
    assert computed == 0
    assert all(torch.equal(a, b) for a, b in zip(first, second))


def test_other_weights_settings_or_content_are_never_served_stale(micro_model, frames, tmp_path):
    path = tmp_path / "cache.zarr"
    run(micro_model, frames, ZarrFeatureStore(path))
    other = SAM2Model(MICRO_TEST_CONFIG).eval()
    other.load_state_dict(micro_model.state_dict())
    with torch.no_grad():
        other.image_encoder.trunk.pos_embed.add_(0.01)  # one weight changed
    assert run(other, frames, ZarrFeatureStore(path))[0] == 5
    assert run(micro_model, frames, ZarrFeatureStore(path), normalization=Normalization(1.0, 99.0))[0] == 5
    edited = frames.copy()
    edited[3, 10:20, 10:20] += 50  # one frame's content changed
    assert run(micro_model, edited, ZarrFeatureStore(path))[0] == 1


def test_an_interrupted_write_is_recomputed(micro_model, frames, tmp_path):
    store = ZarrFeatureStore(tmp_path / "cache.zarr")
    run(micro_model, frames, store)
    for key in store.root.group_keys():
        for frame_key in store.root[key].group_keys():
            store.root[key][frame_key].attrs["complete"] = False
            break
    assert run(micro_model, frames, ZarrFeatureStore(tmp_path / "cache.zarr"))[0] == 1
