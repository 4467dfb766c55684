"""Masklets on disk: an OME-Zarr 0.5 label image (Zarr v3), one chunk per frame, written frame by
frame as tracking produces them, with the prompts and the undo data beside the labels.

    cells.masklets.zarr/     group: OME "multiscales" + "image-label" (built and checked with
                             ome-zarr-models), napari-sam2's own keys (frame axis, prompts, undo)
      0/                     the labels, e.g. (t, y, x), or (t, z, y, x) with the fixed axis of
                             length 1, translated to the slice it was tracked at
      undo/                  the labels a propagation overwrote, until it is undone or replaced

The lineage of tracked cells (tracks, parents: engine/cell_lineage.py), when there is one, is kept
in the group's attributes as CTC rows (L, B, E, P), beside the labels it describes.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import zarr
from ome_zarr_models.v05.axes import Axis
from ome_zarr_models.v05.image_label import ImageLabel, ImageLabelAttrs
from ome_zarr_models.v05.image_label_types import Label
from ome_zarr_models.v05.multiscales import Dataset, Multiscale

from ..engine.cell_lineage import Lineage, Track
from .axes import AXIS_TYPES, default_axes

LABELS_NAME = "masklets"
ARRAY_PATH = "0"  # OME-Zarr's full-resolution level, the only one
UNDO_NAME = "undo"
STORE_ATTR = "napari_sam2"  # {"frame_axis": i}: marks the folder as ours
PROMPTS_ATTR = "napari_sam2_prompts"  # the prompts that made the labels, JSON
UNDO_FRAMES_ATTR = "napari_sam2_undo_frames"
LINEAGE_ATTR = "napari_sam2_lineage"  # [[L, B, E, P], ...]: the tracks of the labels, with their parents
UNDO_LINEAGE_ATTR = "napari_sam2_undo_lineage"  # the lineage as it was when the undo began
LEGACY_ARRAY_PATH = f"labels/{LABELS_NAME}/0"  # stores written before OME-Zarr 0.5


class NotALabelsStore(ValueError):
    """A path that is not a napari-sam2 labels store where one was expected."""


def store_kind(path) -> str:
    """"store" (ours), "legacy" (ours, the layout before OME-Zarr 0.5), "missing" or "other"."""
    path = Path(path)
    if not path.exists():
        return "missing"
    if (path / LEGACY_ARRAY_PATH).is_dir():
        return "legacy"
    try:
        group = zarr.open_group(str(path), mode="r")
    except (FileNotFoundError, ValueError, TypeError, zarr.errors.ContainsArrayError, zarr.errors.GroupNotFoundError):
        return "other"
    return "store" if STORE_ATTR in group.attrs and ARRAY_PATH in group else "other"


def is_labels_store(path) -> bool:
    return store_kind(path) == "store"


def label_dtype(largest_id: int) -> np.dtype:
    """The smallest unsigned type that holds `largest_id`, at least uint16."""
    for dtype in (np.uint16, np.uint32, np.uint64):
        if largest_id <= np.iinfo(dtype).max:
            return np.dtype(dtype)
    raise ValueError(f"object id {largest_id} is too large: ids go up to {np.iinfo(np.uint64).max}")


def ome_attributes(axes: str, scale, translation, units) -> dict:
    """The group's "ome" attributes: one resolution level at `ARRAY_PATH`, a label image."""
    multiscale = Multiscale(
        axes=[Axis(name=a, type=AXIS_TYPES[a], unit=u) for a, u in zip(axes, units)],
        datasets=(Dataset.build(path=ARRAY_PATH, scale=scale, translation=translation),),
        name=LABELS_NAME,
    )
    attrs = ImageLabelAttrs(version="0.5", multiscales=[multiscale], image_label=Label(version="0.5"))
    return attrs.model_dump(mode="json", by_alias=True, exclude_none=True)


class LabelsStore:
    """`path` is the group (e.g. "cells.masklets.zarr"); the labels are its array "0".

    Frames are 2-D planes along `frame_axis`; any other leading axis has length 1 (the fixed
    slice of a 4-D image). Each frame is one chunk, so writing a frame never touches another
    frame's data, and every frame written before a crash stays readable (zarr writes each chunk
    to a new file and renames it).
    """

    def __init__(self, group: zarr.Group):
        self.group = group
        self.array = group[ARRAY_PATH]
        self.frame_axis = int(group.attrs[STORE_ATTR]["frame_axis"])

    @classmethod
    def create(cls, path: str | Path, shape: tuple[int, ...], axes: str | None = None, dtype=np.uint16,
               scale=None, translation=None, units=None, frame_axis: int = 0) -> "LabelsStore":
        """A new, empty store; `path` must not exist. Tracking writes (frames, rows, columns), or
        N-D labels with length-1 axes besides `frame_axis`; any 2-D to 5-D labels can be kept (the
        napari writer does), one chunk per 2-D plane. axes: OME-Zarr axis names, by default
        "yx", "tyx", "tzyx" or "tczyx"; scale, translation and units (e.g. "micrometer") per axis."""
        shape = tuple(int(s) for s in shape)
        axes = axes or default_axes(len(shape))
        if axes is None or len(axes) != len(shape):
            raise ValueError(
                f"a labels store holds 2 to 5 dimensions named by `axes`, got shape {shape} and axes {axes!r}"
            )
        if Path(path).exists():
            raise FileExistsError(f"{path} already exists: a new labels store needs a new location")
        attributes = ome_attributes(
            axes, [1.0] * len(shape) if scale is None else [float(v) for v in scale],
            None if translation is None else [float(v) for v in translation],
            [None] * len(shape) if units is None else units,
        )
        root = zarr.open_group(str(path), mode="w-", zarr_format=3)
        root.create_array(ARRAY_PATH, shape=shape, chunks=(1,) * (len(shape) - 2) + shape[-2:], dtype=dtype,
                          fill_value=0, dimension_names=list(axes))
        root.attrs.update({"ome": attributes, STORE_ATTR: {"frame_axis": frame_axis}})
        ImageLabel.from_zarr(root)  # what was written is valid OME-Zarr 0.5, or this raises
        return cls(root)

    @classmethod
    def open(cls, path: str | Path, mode: str = "r+") -> "LabelsStore":
        kind = store_kind(path)
        if kind == "missing":
            raise FileNotFoundError(f"there is no labels store at {path}")
        if kind == "legacy":
            raise NotALabelsStore(
                f"{path} was written by an earlier napari-sam2, in a layout other tools cannot read: "
                f"convert it with `python -m napari_sam2 convert-store {path} NEW.zarr`"
            )
        if kind == "other":
            raise NotALabelsStore(
                f"{path} is not a napari-sam2 labels store (it holds {_listing(path)}): open a folder "
                "written by napari-sam2, e.g. cells.masklets.zarr"
            )
        return cls(zarr.open_group(str(path), mode=mode))

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.array.shape)

    @property
    def num_frames(self) -> int:
        """Frames along the frame axis; 2-D labels (of a single image) are one frame."""
        return 1 if len(self.shape) == 2 else self.shape[self.frame_axis]

    @property
    def frame_shape(self) -> tuple[int, ...]:
        return self.shape[-2:]

    def _multiscale(self) -> dict:
        return self.group.attrs["ome"]["multiscales"][0]

    @property
    def axes(self) -> str:
        return "".join(a["name"] for a in self._multiscale()["axes"])

    def _transform(self, kind: str, default: float) -> tuple[float, ...]:
        transforms = self._multiscale()["datasets"][0]["coordinateTransformations"]
        return tuple(next((t[kind] for t in transforms if t["type"] == kind), [default] * len(self.shape)))

    @property
    def scale(self) -> tuple[float, ...]:
        return self._transform("scale", 1.0)

    @property
    def translation(self) -> tuple[float, ...]:
        return self._transform("translation", 0.0)

    @property
    def units(self) -> tuple[str | None, ...]:
        return tuple(a.get("unit") for a in self._multiscale()["axes"])

    def _frame_index(self, frame: int) -> tuple[int, ...]:
        """The array index of a frame's plane: `frame` on the frame axis, 0 on the others."""
        if any(n > 1 for a, n in enumerate(self.shape[:-2]) if a != self.frame_axis):
            raise ValueError(
                f"this store holds labels of shape {self.shape}, not one series of frames: index its array")
        if not 0 <= frame < self.num_frames:
            raise IndexError(f"frame {frame} is outside the store's frames 0 to {self.num_frames - 1}")
        return tuple(frame if a == self.frame_axis else 0 for a in range(len(self.shape) - 2))

    def write_frame(self, frame: int, labels: np.ndarray) -> None:
        labels = np.asarray(labels)
        if tuple(labels.shape) != self.frame_shape:
            raise ValueError(f"frame labels of shape {labels.shape} do not fit the store's frames {self.frame_shape}")
        self.array[self._frame_index(frame)] = self.checked_labels(labels)

    def read_frame(self, frame: int) -> np.ndarray:
        return np.asarray(self.array[self._frame_index(frame)])

    @property
    def frames(self) -> "StoreFrames":
        """The frames as a read-only sequence, each read from disk when asked for."""
        return StoreFrames(self)

    def checked_labels(self, labels: np.ndarray) -> np.ndarray:
        """`labels` as the store's dtype, or a ValueError if an id is not a whole number from 0
        (background) to the largest id the store can hold."""
        largest = np.iinfo(self.array.dtype).max
        if labels.dtype.kind not in "uib":
            raise ValueError(f"labels must be whole numbers (object ids), not {labels.dtype}")
        if labels.size and (labels.min() < 0 or labels.max() > largest):
            bad = labels.min() if labels.min() < 0 else labels.max()
            raise ValueError(
                f"object id {bad} cannot be stored: ids go from 1 to {largest} in this store "
                f"({self.array.dtype}; 0 is background)"
            )
        return labels.astype(self.array.dtype, copy=False)

    # ---- prompts ---------------------------------------------------------------------------

    def save_prompts(self, prompts: dict) -> None:
        """Keep the prompts (any JSON-compatible dict) with the labels; written atomically."""
        self.group.attrs[PROMPTS_ATTR] = prompts

    def load_prompts(self) -> dict | None:
        return self.group.attrs.asdict().get(PROMPTS_ATTR)

    # ---- lineage ---------------------------------------------------------------------------

    def save_lineage(self, lineage: Lineage | None) -> None:
        """Keep the lineage of the labels (None: the labels have none); written atomically."""
        self.group.attrs[LINEAGE_ATTR] = None if lineage is None else [list(row) for row in lineage.ctc_rows()]

    def load_lineage(self) -> Lineage | None:
        """The lineage saved with the labels, or None (a store of clicked objects, or one written
        before lineages were kept)."""
        return _lineage_from_rows(self.group.attrs.asdict().get(LINEAGE_ATTR))

    # ---- undo of one propagation -----------------------------------------------------------

    def begin_undoable(self) -> None:
        """Start recording: frames overwritten by `write_frame_undoable` from now on can be put back
        by `undo`. The copies live on disk beside the labels, so undo costs no memory."""
        if UNDO_NAME not in self.group:
            self.group.create_array(UNDO_NAME, shape=self.shape, chunks=self.array.chunks,
                                    dtype=self.array.dtype, fill_value=0)
        # the lineage as it is now, wrapped: a store without one records {"rows": None}
        self.group.attrs.update({UNDO_FRAMES_ATTR: [], UNDO_LINEAGE_ATTR: {"rows": self.group.attrs.get(LINEAGE_ATTR)}})

    def write_frame_undoable(self, frame: int, labels: np.ndarray) -> None:
        """Like write_frame, first copying the frame's labels aside (once per recording)."""
        recorded = self.undoable_frames
        if frame not in recorded:
            self.group[UNDO_NAME][self._frame_index(frame)] = self.read_frame(frame)
            self.group.attrs[UNDO_FRAMES_ATTR] = recorded + [frame]  # after the copy: a crash never lists a frame not copied
        self.write_frame(frame, labels)

    def erase_label(self, obj_id: int) -> list[int]:
        """Set `obj_id` to background on every frame; returns the frames it was on. Undoable like a
        propagation (`undo` puts it back), also after a crash part-way through."""
        self.begin_undoable()
        frames = []
        for frame in range(self.num_frames):
            labels = self.read_frame(frame)
            found = labels == obj_id
            if found.any():
                labels[found] = 0
                self.write_frame_undoable(frame, labels)
                frames.append(frame)
        return frames

    @property
    def undoable_frames(self) -> list[int]:
        return list(self.group.attrs.asdict().get(UNDO_FRAMES_ATTR, []))

    def discard_undo(self) -> None:
        if self.undoable_frames or self.group.attrs.get(UNDO_LINEAGE_ATTR):
            self.group.attrs.update({UNDO_FRAMES_ATTR: [], UNDO_LINEAGE_ATTR: None})

    def undo(self) -> list[int]:
        """Put back the labels of every frame written since begin_undoable; returns those frames.
        The lineage goes back to what it was then. A second undo does nothing (one level)."""
        frames = self.undoable_frames
        for frame in frames:
            self.write_frame(frame, np.asarray(self.group[UNDO_NAME][self._frame_index(frame)]))
        recorded = self.group.attrs.get(UNDO_LINEAGE_ATTR)
        if recorded:
            self.group.attrs[LINEAGE_ATTR] = recorded["rows"]
        self.group.attrs.update({UNDO_FRAMES_ATTR: [], UNDO_LINEAGE_ATTR: None})
        return frames


class StoreFrames:
    """A store's frames: len() and [t] (the (H, W) labels of frame t); iterating reads one at a time."""

    def __init__(self, store: LabelsStore):
        self.store = store

    def __len__(self) -> int:
        return self.store.num_frames

    def __getitem__(self, frame: int) -> np.ndarray:
        return self.store.read_frame(frame)  # IndexError past the end: ends an iteration


def _lineage_from_rows(rows) -> Lineage | None:
    if rows is None:
        return None
    return Lineage({int(row[0]): Track(*(int(v) for v in row)) for row in rows})


def _listing(path) -> str:
    names = sorted(p.name for p in Path(path).iterdir()) if Path(path).is_dir() else []
    return ", ".join(names[:8]) + (", ..." if len(names) > 8 else "") if names else "nothing napari-sam2 reads"
