"""napari-sam2: SAM 2 for microscopy, as a library and a napari plugin.

Scripting API (imports no napari), with `ns` this package (import napari_sam2 as ns):

    model = ns.load_model("sam2.1_hiera_tiny")        # or a checkpoint path
    predictor = ns.ImagePredictor(model)
    predictor.set_image(image)                         # 2-D or (H, W, C); uint8/uint16/float
    pred = predictor.predict(points=[[120, 80]], labels=[1])
    mask = pred.masks[pred.best]
    predictor = ns.TiledImagePredictor(model, cell_diameter=None)  # any frame size: cells resampled, tiled
    ns.ImagePredictor(model, cleanup=ns.MaskCleanup.off())   # masks as the model gives them (default: one
                                                       # piece under the click, holes filled; also VideoTracker)
    ns.ImagePredictor(model, averaged_views=False)     # the image alone (default for the embedded model: masks
                                                       # averaged over the image, its mirror images and these
                                                       # moved by half a patch; official 1024 px models: alone)

    tracker = ns.VideoTracker(model, ns.ArrayFrames(stack, axis=0))   # T or Z first
    tracker.add_points(frame=0, obj_id=1, points=[[120, 80]], labels=[1])
    for result in tracker.propagate():                 # streams frame by frame
        labels = result.label_image()
    tracker = ns.TiledVideoTracker(model, frames, cell_diameter=None)  # large frames: cells resampled, tiled
    print(tracker.cell_diameter)                       # estimated from the frames when not given

    cells = ns.detect_cells(model, frame).labels       # every cell of a frame, no clicks
    seeds = ns.masks_from_labels(cellpose_labels, frame.shape)   # {id: mask}, one mask prompt each
    labels, lineage = ns.track_all_cells(model, stack)  # every cell tracked: new cells, divisions, ends
    for finished in ns.CellTracker(model, stack).run():  # the same, streamed (finished.again: an earlier frame revised)
        finished.labels, finished.started, finished.ended
    ns.write_ctc_folder("01_RES", labels, lineage)    # Cell Tracking Challenge result folder
    table = ns.measure_cells(labels, lineage, stack)   # per cell per frame: centroid, area, intensity
    ns.write_measurements_csv("cells.csv", table)
    ns.write_geff("cells.geff", table, lineage)       # the lineage graph (geff package)
"""
from .engine import (
    ArrayFrames,
    CellDetections,
    CellFrame,
    CellTracker,
    CellTrackingParams,
    DetectionParams,
    FrameResult,
    ImagePredictor,
    Lineage,
    MaskCleanup,
    Normalization,
    Prediction,
    TiledFrameResult,
    TiledImagePredictor,
    TiledVideoTracker,
    VideoTracker,
    detect_cells,
    load_model,
    masks_from_labels,
    open_tiff_frames,
    track_all_cells,
)
from .engine.cell_measurements import measure_cells
from .model import SAM2Config, SAM2Model, load_checkpoint, save_checkpoint
from .storage import ZarrFeatureStore
from .storage.ctc_folder import write_ctc_folder
from .storage.geff_file import write_geff
from .storage.measurements_csv import write_measurements_csv

__version__ = "0.1.0"


def __getattr__(name: str):
    """The napari console's functions (see _napari/console.py) import napari only when used."""
    if name in ("track_layers", "propagate_now", "start_tracking", "propagate_in_background"):
        from ._napari import console

        return getattr(console, name)
    raise AttributeError(f"module 'napari_sam2' has no attribute {name!r}")


__all__ = [
    "ArrayFrames", "CellDetections", "CellFrame", "CellTracker", "CellTrackingParams", "detect_cells",
    "DetectionParams", "FrameResult", "ImagePredictor", "Lineage", "load_checkpoint", "load_model",
    "MaskCleanup", "masks_from_labels", "measure_cells", "Normalization", "open_tiff_frames", "Prediction",
    "SAM2Config", "SAM2Model",
    "save_checkpoint", "TiledFrameResult", "TiledImagePredictor", "TiledVideoTracker", "track_all_cells", "VideoTracker",
    "write_ctc_folder",
    "write_geff", "write_measurements_csv", "ZarrFeatureStore",
]
