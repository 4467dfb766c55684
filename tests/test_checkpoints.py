"""Checkpoint files: official layouts load strictly; wrong, truncated or unsafe files are refused."""
from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch

from napari_sam2 import load_model
from napari_sam2.model import OFFICIAL_CONFIGS, CheckpointError, SAM2Model, infer_config, load_checkpoint, save_checkpoint
from napari_sam2.testing.reference import build_reference
from tiny_config import MICRO_TEST_CONFIG

FAST_NAMES = ["sam2.1_hiera_tiny", "sam2_hiera_tiny"]


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=[] if n in FAST_NAMES else [pytest.mark.slow]) for n in OFFICIAL_CONFIGS]
)
def test_reference_state_dict_of_every_official_configuration_loads_strictly(name, tmp_path):
    reference = build_reference(name)
    path = tmp_path / f"{name}.pt"
    torch.save({"model": reference.state_dict()}, path)  # the official files' layout
    del reference
    state = torch.load(path, weights_only=True)["model"]
    assert infer_config(state).name == name
    model = load_checkpoint(path)  # configuration inferred from keys and shapes
    assert model.cfg == OFFICIAL_CONFIGS[name]
    ours = model.state_dict()
    assert set(ours) == set(state)
    assert all(torch.equal(ours[k], state[k]) for k in state)


@pytest.fixture(scope="module")
def tiny21_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ckpt") / "sam2.1_hiera_tiny.pt"
    torch.manual_seed(0)
    torch.save({"model": SAM2Model(OFFICIAL_CONFIGS["sam2.1_hiera_tiny"]).state_dict()}, path)
    return path


def test_wrong_configuration_names_keys_and_what_the_file_looks_like(tiny21_file):
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(tiny21_file, config=OFFICIAL_CONFIGS["sam2_hiera_small"])
    message = str(err.value)
    assert "sam2_hiera_small" in message
    assert "missing keys" in message and "image_encoder.trunk.blocks.12" in message
    assert "unexpected keys" in message and "no_obj_embed_spatial" in message
    assert "looks like sam2.1_hiera_tiny" in message


def test_a_sam21_file_missing_a_key_is_called_incomplete_not_another_model(tiny21_file, tmp_path):
    """Issue 21: it was "does not fit sam2_hiera_tiny ... looks like sam2_hiera_tiny"."""
    state = torch.load(tiny21_file, weights_only=True)["model"]
    del state["no_obj_embed_spatial"]
    path = tmp_path / "edited.pt"
    torch.save({"model": state}, path)
    for config in (None, OFFICIAL_CONFIGS["sam2.1_hiera_tiny"]):
        with pytest.raises(CheckpointError) as err:
            load_checkpoint(path, config=config)
        message = str(err.value)
        assert "does not fit configuration sam2.1_hiera_tiny" in message and "1 missing keys: no_obj_embed_spatial" in message
        assert "looks like" not in message and "incomplete" in message
    assert load_checkpoint(tiny21_file).cfg.name == "sam2.1_hiera_tiny"  # the intact file still loads


@pytest.mark.parametrize("content", [b"hello world\nthis is a text file\n", b"e"])
def test_a_file_that_is_not_a_checkpoint_says_so(tmp_path, content):
    """Issue 21: text files raised KeyError: 101 or IndexError: pop from empty list from inside torch."""
    path = tmp_path / "notes.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="is not a PyTorch checkpoint") as err:
        load_model(path, device="cpu")
    assert str(path) in str(err.value)


def test_truncated_checkpoint(tiny21_file, tmp_path):
    data = tiny21_file.read_bytes()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        load_checkpoint(cut)


class _RunsCode:
    """Unpickling this would create a file: proof that code ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_pickle_carrying_code_is_refused_not_executed(tmp_path):
    marker = tmp_path / "code-ran"
    path = tmp_path / "evil.pt"
    torch.save({"model": {"w": torch.zeros(1)}, "payload": _RunsCode(marker)}, path)
    with pytest.raises(CheckpointError, match="refused"):
        load_checkpoint(path)
    assert not marker.exists()
    plain = tmp_path / "evil.pkl"
    plain.write_bytes(pickle.dumps(_RunsCode(marker)))
    with pytest.raises(CheckpointError):
        load_checkpoint(plain)
    assert not marker.exists()


def test_a_foreign_state_dict(tmp_path):
    path = tmp_path / "resnet.pt"
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7)}, path)
    with pytest.raises(CheckpointError, match="not a SAM 2 state dict"):
        load_checkpoint(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint file"):
        load_checkpoint(tmp_path / "nothing.pt")


def test_custom_configuration_travels_with_the_checkpoint(micro_model, tmp_path):
    path = tmp_path / "micro.pt"
    save_checkpoint(micro_model, path, step=12)
    loaded = load_checkpoint(path)
    assert loaded.cfg == MICRO_TEST_CONFIG
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), micro_model.state_dict().values()))


def test_custom_weights_without_configuration_say_what_to_do(micro_model, tmp_path):
    path = tmp_path / "bare.pt"
    torch.save({"model": micro_model.state_dict()}, path)
    with pytest.raises(CheckpointError, match="match no official SAM 2 configuration"):
        load_checkpoint(path)
