"""One file's tracking job, shared by `track` and `batch`: the clicks of one TIFF tracked through
all its frames (read lazily) into a labels store that appears only when tracking ends; or every
cell of it (`track --auto`), with its lineage and the outputs made from it."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import tifffile
from tqdm import tqdm

from .click_table import Click
from .engine.cell_tracker import CellTracker
from .engine.clicked_outlines import outline_image, written_as_given
from .engine.depth_extent import ClickedDepth
from .engine.frames import open_image_frames
from .engine.image_layout import ImageLayout, check_channels, image_layout, is_ome_zarr
from .engine.loading import load_model
from .engine.postprocess import MaskCleanup
from .engine.scale import ESTIMATED
from .engine.tiled_tracker import TiledVideoTracker
from .storage.labels_store import LabelsStore, label_dtype
from .storage.store_opening import check_replaceable, new_labels_store
from .storage.tiff_geometry import tiff_geometry
from .storage.tracking_outputs import TrackingOutputs

_models: dict[str | None, object] = {}
_models_lock = threading.Lock()


def model_from(spec: str | None):
    """The model named by `spec`: an official name, a checkpoint path, or None for the embedded
    one, on the CPU (where it is fast enough)."""
    return load_model(spec, device="cpu" if spec is None else None)


def cached_model(spec: str | None):
    """model_from(spec), loaded once per process: a batch worker runs many files with one model."""
    with _models_lock:  # two threads of one worker must not load it twice
        if spec not in _models:
            _models[spec] = model_from(spec)
        return _models[spec]


def file_layout(image: Path, series: int = 0, axis: str | None = None, channels: tuple[int, ...] | None = None,
                max_projection: bool = False) -> ImageLayout:
    """How a job reads a TIFF's image `series` or an OME-Zarr image: its axes as it names them, each
    frame the maximum-intensity projection of its z-stack with max_projection, and with an `axis`
    named and no channels, the channels of one image as its frames (ImageLayout.channels_as_frames)."""
    layout = image_layout(image, series, "Z" if max_projection else None)
    return layout.channels_as_frames() if axis is not None and channels is None else layout


def axis_assumed(image: Path, series: int = 0, axis: str | None = None, channels: tuple[int, ...] | None = None,
                 max_projection: bool = False) -> bool:
    """Whether a job's frames are taken as time only because neither `axis` nor the file says what
    they are along (a plain multi-page TIFF): a z-stack read so would be given divisions."""
    return axis is None and not file_layout(image, series, axis, channels, max_projection).stack_named


def _opened(image: Path, series: int, axis: str | None, channels: tuple[int, ...] | None, max_projection: bool):
    """(frames, the store's geometry) of the image as the job reads it (file_layout), its channels checked first."""
    layout = file_layout(image, series, axis, channels, max_projection)
    check_channels(layout, channels, str(image))
    return open_image_frames(image, series=series, layout=layout), tiff_geometry(image, series, axis, layout)


def read_seeds(path: Path) -> np.ndarray:
    """A label image (H, W) or stack (T, H, W) from a TIFF (as tifffile reads it: a stack of labels
    is no channels) or an OME-Zarr image; a ValueError that says so for a path that is neither."""
    if not is_ome_zarr(path):
        image_layout(path)  # a file that is there and reads as a TIFF
        return tifffile.imread(path)
    frames = open_image_frames(path)
    return np.asarray(frames[0]) if len(frames) == 1 else np.stack([np.asarray(frames[t]) for t in range(len(frames))])


class BadClick(ValueError):
    """A click the image cannot take (outside it, or on a frame it does not have)."""


def _diameter_text(diameter: float, estimated: bool) -> str:
    """e.g. "cell diameter 17.8 px (estimated from the frames; give --cell-diameter to change it)"."""
    how = ESTIMATED if estimated else "given"
    return f"cell diameter {diameter:.1f} px ({how}; give --cell-diameter to change it)"


@dataclass(frozen=True)
class FileTracked:
    frames: int
    objects: list[int]
    precision: str  # the one the model ran in ("auto" resolved)
    seconds: float  # tracking and writing, without loading the model
    masks: dict[int, np.ndarray] | None  # obj_id -> (frames, H, W) bool, when asked for
    cell_diameter: float  # px of the image
    cell_diameter_estimated: bool  # from the frames (TiledVideoTracker), as none was given
    tiles_in_use: int  # tiles holding objects, of
    tiles: int  # the tiles of the resampled frame

    def describe_scale(self) -> str:
        return (f"{_diameter_text(self.cell_diameter, self.cell_diameter_estimated)}; "
                f"{self.tiles_in_use} of {self.tiles} tiles in use")


def track_file(image: Path, out: Path, clicks: list[Click], model, overwrite: bool = False,
               keep_masks: bool = False, progress: bool = True, series: int = 0,
               on_frame: Callable[[int], None] | None = None, cell_diameter: float | None = None,
               precision: str = "auto", cleanup: MaskCleanup = MaskCleanup(), axis: str | None = None,
               channels: tuple[int, ...] | None = None, max_projection: bool = False) -> FileTracked:
    """Tracks `clicks` through every frame of the TIFF `image` (its image `series`) into the labels
    store `out`, with cells resampled to the model's preferred size and tiled (TiledVideoTracker;
    the cell diameter in pixels is estimated from the frames when not given); `on_frame(results so
    far)` after each tracked frame. A bad diameter or a click outside the image or the frames
    raises ValueError (BadClick for a click) before anything is written; a failure while tracking
    leaves nothing at `out`. cleanup: the masks' post-processing (engine/postprocess.py). axis: the
    stack's first axis, "t" or "z" (None: as the TIFF says; storage.tiff_geometry). channels: those
    the model sees (check_channels: needed where the TIFF has a microscope's several channels).
    max_projection: a time-lapse of z-stacks tracked on each time point's maximum-intensity projection."""
    check_replaceable(out, overwrite)  # before any work: the answer may be no
    frames, geometry = _opened(image, series, axis, channels, max_projection)
    tracker = TiledVideoTracker(model, frames, cell_diameter=cell_diameter, precision=precision, cleanup=cleanup,
                                channels=channels)
    try:
        objects = _add_clicks(tracker, clicks)
    except (ValueError, IndexError) as error:
        raise BadClick(str(error)) from error
    masks = {i: np.zeros((len(frames), *tracker.video_hw), bool) for i in objects} if keep_masks else None
    start = time.time()
    geometry["dtype"] = label_dtype(max(objects, default=0))
    with new_labels_store(out, (len(frames), *tracker.video_hw), overwrite=overwrite, **geometry) as store:
        # Each object both ways from its own prompted frame: a frame can come twice (forward for
        # some objects, backward for others), so each result is painted onto what is stored.
        plan = tracker.plan("both")
        depth = ClickedDepth(tracker) if geometry["axes"][0] == "z" else None
        for done, result in enumerate(tqdm(tracker.run(plan), total=plan.num_frames, desc="tracking", unit="frame",
                                           disable=not progress), start=1):
            labels = result.paint_onto(store.read_frame(result.frame), outline_image(tracker, result.frame),
                                       written_as_given((c.obj_id, c.positive) for c in clicks if c.frame == result.frame))
            store.write_frame(result.frame, labels)
            if depth is not None:
                depth.record(result, labels)
            if on_frame is not None:
                on_frame(min(done, len(frames)))  # a frame tracked both ways counts once in the total
            if masks is not None:
                frame_masks = result.masks
                for obj_id in result.updated_ids:
                    masks[obj_id][result.frame] = frame_masks[obj_id]
        if depth is not None:  # a z-stack: each nucleus ends where it fades (depth_extent.py)
            for frame, labels in depth.cleared(store.read_frame):  # the clicked slices stay
                store.write_frame(frame, labels)
                for obj_id in objects if masks is not None else ():
                    masks[obj_id][frame] &= labels == obj_id
    return FileTracked(len(frames), objects, tracker.precision, time.time() - start, masks, tracker.cell_diameter,
                       tracker.cell_diameter_estimated, len(tracker.tiles_in_use), len(tracker.tile_plan.tiles))


def _add_clicks(tracker: TiledVideoTracker, clicks: list[Click]) -> list[int]:
    """Each object's clicks on each frame as one prompt; returns the object ids."""
    prompts: dict[tuple[int, int], list[Click]] = {}
    for click in clicks:
        prompts.setdefault((click.frame, click.obj_id), []).append(click)
    for (frame, obj_id), group in prompts.items():
        tracker.add_points(frame, obj_id, [[c.x, c.y] for c in group], [int(c.positive) for c in group])
    return sorted({click.obj_id for click in clicks})


@dataclass(frozen=True)
class CellsTracked:
    frames: int
    tracks: int
    divisions: int
    seconds: float  # tracking and writing the store, without loading the model
    written: list[Path]  # the outputs besides the store
    cell_diameter: float | None = None  # px of the image, as the tracker used it
    cell_diameter_estimated: bool = False  # from the frames (TiledVideoTracker), as none was given
    tiles: int = 1  # the tiles of the resampled frame
    precision: str = "float32"  # the one the model ran in ("auto" resolved)

    def describe_scale(self) -> str:
        return (f"{_diameter_text(self.cell_diameter, self.cell_diameter_estimated)}; "
                f"frames in {self.tiles} tile{'s' if self.tiles > 1 else ''}")


def write_cell_tracking(tracker, frames, out: Path, outputs: TrackingOutputs, geometry: dict,
                        overwrite: bool = False, progress: bool = True,
                        on_frame: Callable[[int], None] | None = None) -> CellsTracked:
    """Runs `tracker` (a CellTracker: `run()` yields each finished frame's labels, and earlier
    frames again when new cells were tracked back onto them; `lineage` grows) into the labels store
    `out`, which appears with its lineage only when tracking ends, then writes `outputs` from it. A
    failure while tracking leaves nothing at `out`."""
    start = time.time()
    shape = (len(frames), *np.asarray(frames[0]).shape[:2])
    with (new_labels_store(out, shape, overwrite=overwrite, dtype=np.uint32, **geometry) as store,
          tqdm(total=len(frames), desc="tracking cells", unit="frame", disable=not progress) as bar):
        done = 0
        for cell_frame in tracker.run():
            store.write_frame(cell_frame.frame, cell_frame.labels)  # a revised frame is written over
            if cell_frame.again:
                continue
            done += 1
            bar.update(1)
            if on_frame is not None:
                on_frame(done)
        store.save_lineage(tracker.lineage)
    seconds = time.time() - start
    written = outputs.write(LabelsStore.open(out, mode="r"), tracker.lineage, frames)
    return CellsTracked(len(frames), len(tracker.lineage), len(tracker.lineage.divided()), seconds, written)


def track_cells_file(image: Path, out: Path, model, outputs: TrackingOutputs, seeds: Path | None = None,
                     overwrite: bool = False, progress: bool = True, series: int = 0,
                     on_frame: Callable[[int], None] | None = None, precision: str = "auto",
                     cell_diameter: float | None = None, axis: str | None = None,
                     channels: tuple[int, ...] | None = None, max_projection: bool = False) -> CellsTracked:
    """Every cell of the TIFF `image` tracked (found by the model, or from the label TIFF `seeds`:
    one label image of the first frame, or a label stack of every frame) into the store `out`,
    and `outputs` written from it, with cells resampled to the model's preferred size and tiled
    (the cell diameter in pixels estimated from the frames when not given). Every output
    path is checked first, and bad seeds or a bad diameter are refused, before any work; along z
    (a z-stack: the TIFF says Z, or axis="z") there are no divisions, and each nucleus ends where it fades.
    channels: those the model sees (check_channels: needed where the TIFF has a microscope's several channels).
    max_projection: a time-lapse of z-stacks tracked on each time point's maximum-intensity projection."""
    check_replaceable(out, overwrite)
    outputs.check()
    frames, geometry = _opened(image, series, axis, channels, max_projection)
    seed_labels = None if seeds is None else read_seeds(seeds)
    tracker = CellTracker(model, frames, seeds=seed_labels, z_stack=geometry["axes"][0] == "z", precision=precision,
                          cell_diameter=cell_diameter, channels=channels)
    done = write_cell_tracking(tracker, frames, out, outputs, geometry, overwrite, progress, on_frame)
    return replace(done, cell_diameter=tracker.cell_diameter, cell_diameter_estimated=tracker.cell_diameter_estimated,
                   tiles=len(tracker.video.tile_plan.tiles), precision=tracker.video.precision)
