"""The labels store refuses what it cannot keep, and is unchanged and usable after a bad call."""
import numpy as np
import pytest
import zarr

from napari_sam2.storage import LabelsStore, NotALabelsStore


def test_ids_outside_the_stores_range_are_refused_and_the_store_is_unchanged(tmp_path):
    store = LabelsStore.create(tmp_path / "s.zarr", (3, 4, 5))
    store.write_frame(1, np.full((4, 5), 2, np.uint8))
    for bad, message in [(np.full((4, 5), -1), "object id -1 cannot be stored: ids go from 1 to"),
                         (np.full((4, 5), 2**40, np.int64), "object id 1099511627776 cannot be stored"),
                         (np.full((4, 5), 1.5), "whole numbers")]:
        with pytest.raises(ValueError, match=message):
            store.write_frame(1, bad)
        assert (store.read_frame(1) == 2).all()
    store.write_frame(1, np.full((4, 5), 3, np.int64))  # still usable
    assert (LabelsStore.open(tmp_path / "s.zarr", mode="r").read_frame(1) == 3).all()


def test_opening_a_plain_zarr_group_says_it_is_not_a_labels_store(tmp_path):
    zarr.open_group(str(tmp_path / "image.zarr"), mode="w").create_array("0", shape=(4, 4), dtype="u2")
    with pytest.raises(NotALabelsStore, match="image.zarr is not a napari-sam2 labels store .*it holds 0, zarr.json"):
        LabelsStore.open(tmp_path / "image.zarr")
    with pytest.raises(FileNotFoundError, match="no labels store at"):
        LabelsStore.open(tmp_path / "missing.zarr")


def test_create_never_replaces_what_is_there(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "notes.txt").write_text("x")
    with pytest.raises(FileExistsError, match="already exists"):
        LabelsStore.create(tmp_path / "d", (2, 4, 4))
    assert (tmp_path / "d" / "notes.txt").read_text() == "x"
