"""The shipped list of official SAM 2 checkpoints."""

from __future__ import annotations

import re

import pytest

from napari_sam2.weights import CheckpointInfo, checkpoint_info, models_dir, official_checkpoints

OFFICIAL_NAMES = {
    f"{version}_hiera_{size}"
    for version in ("sam2", "sam2.1")
    for size in ("tiny", "small", "base_plus", "large")
}


def test_models_dir_holds_the_checkpoint_table():
    assert (models_dir() / "checkpoints.tsv").is_file()


def test_registry_lists_the_eight_official_checkpoints():
    assert set(official_checkpoints()) == OFFICIAL_NAMES


@pytest.mark.parametrize("name", sorted(OFFICIAL_NAMES))
def test_each_checkpoint_is_well_formed(name):
    info = official_checkpoints()[name]
    assert isinstance(info, CheckpointInfo)
    assert info.name == name
    assert re.fullmatch(r"[0-9a-f]{64}", info.sha256)
    assert info.num_bytes > 0
    assert info.url.startswith("https://")
    assert info.filename == f"{name}.pt"
    assert info.url.endswith("/" + info.filename)
    assert info.version in name and info.size_name in name


def test_checkpoint_info_finds_a_known_name():
    info = checkpoint_info("sam2.1_hiera_tiny")
    assert info.version == "sam2.1"
    assert info.size_name == "tiny"
    assert info.hf_repo == "facebook/sam2.1-hiera-tiny"


def test_checkpoint_info_rejects_unknown_name_and_lists_known_ones():
    with pytest.raises(ValueError) as excinfo:
        checkpoint_info("nope")
    message = str(excinfo.value)
    assert "'nope'" in message
    assert ", ".join(sorted(OFFICIAL_NAMES)) in message


def test_callers_cannot_corrupt_the_cached_registry():
    official_checkpoints().clear()
    assert set(official_checkpoints()) == OFFICIAL_NAMES


def test_checkpoint_info_is_immutable():
    info = checkpoint_info("sam2_hiera_large")
    with pytest.raises(AttributeError):
        info.sha256 = "0" * 64  # type: ignore[misc]
