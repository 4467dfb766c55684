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


def _store_with_objects(path):
    store = LabelsStore.create(path, (4, 6, 6))
    for frame in range(4):
        labels = np.zeros((6, 6), np.uint16)
        labels[:3] = 1 if frame != 2 else 0
        labels[3:] = 2
        store.write_frame(frame, labels)
    return store


def test_erase_label_removes_an_object_everywhere_and_undo_puts_it_back(tmp_path):
    store = _store_with_objects(tmp_path / "s.zarr")
    before = store.array[:]
    assert store.erase_label(1) == [0, 1, 3]
    assert not (store.array[:] == 1).any() and (store.array[:] == 2).sum() == (before == 2).sum()
    assert store.undo() == [0, 1, 3]
    np.testing.assert_array_equal(store.array[:], before)


def test_an_erase_interrupted_part_way_can_still_be_undone(tmp_path, monkeypatch):
    store = _store_with_objects(tmp_path / "s.zarr")
    before = store.array[:]
    write = LabelsStore.write_frame

    def dies_on_frame_3(self, frame, labels):
        if frame == 3:
            raise KeyboardInterrupt  # a crash between two frames
        write(self, frame, labels)

    monkeypatch.setattr(LabelsStore, "write_frame", dies_on_frame_3)
    with pytest.raises(KeyboardInterrupt):
        store.erase_label(1)
    monkeypatch.undo()
    reopened = LabelsStore.open(tmp_path / "s.zarr")
    assert reopened.undoable_frames == [0, 1, 3]  # frame 3 was copied aside before its write failed
    reopened.undo()
    np.testing.assert_array_equal(reopened.array[:], before)


def test_a_store_of_the_earlier_layout_is_named_and_converts(tmp_path):
    from napari_sam2.cli import main

    old = zarr.open_group(str(tmp_path / "old.zarr"), mode="w")  # the layout of napari-sam2 0.1
    old.attrs.update({"labels": ["masklets"], "napari_sam2_prompts": {"points": [[0, 1, 2]]}})
    masklets = old.require_group("labels/masklets")
    masklets.attrs["multiscales"] = [{"version": "0.4", "axes": [{"name": n} for n in "tyx"],
                                      "datasets": [{"path": "0", "coordinateTransformations": [
                                          {"type": "scale", "scale": [1.0, 0.5, 0.5]}]}]}]
    masklets.create_array("0", shape=(3, 4, 5), chunks=(1, 4, 5), dtype="u4", fill_value=0)[1] = np.full((4, 5), 7)
    with pytest.raises(NotALabelsStore, match="earlier napari-sam2.*python -m napari_sam2 convert-store"):
        LabelsStore.open(tmp_path / "old.zarr")
    assert main(["convert-store", str(tmp_path / "old.zarr"), str(tmp_path / "new.zarr")]) == 0
    new = LabelsStore.open(tmp_path / "new.zarr")
    assert new.read_frame(1)[0, 0] == 7 and new.array.dtype == np.uint16 and new.scale == (1.0, 0.5, 0.5)
    assert new.load_prompts() == {"points": [[0, 1, 2]]} and LabelsStore.open(tmp_path / "new.zarr").axes == "tyx"
