"""What the engine alone gives for clicks or boxes on frame 0, as label images: the napari layer
must match it exactly, and the embedded model's tests score it."""
import numpy as np

from napari_sam2 import ArrayFrames, TiledVideoTracker, VideoTracker
from napari_sam2.engine.clicked_outlines import outline_image


def reference_labels(model, frames, clicks=(), boxes=(), direction="forward", separate_memories=True,
                     tiled=True, written=True, **frame_kwargs) -> np.ndarray:
    """(T, H, W) label images of an uninterrupted propagation by the tracker sessions use
    (TiledVideoTracker, cell diameter estimated), or with tiled=False the plain VideoTracker
    (frames resized to the model's input). clicks: (obj_id, row, col) on frame 0, in that
    order; boxes: (obj_id, XYXY) on frame 0. written: the labels as the plugin and the command line
    write them (FrameResult.paint_onto, grown to the cells' outlines: clicked_outlines.py); False:
    the model's masks (label_image)."""
    kind = TiledVideoTracker if tiled else VideoTracker
    tracker = kind(model, ArrayFrames(frames, **frame_kwargs), separate_memories=separate_memories)
    for obj_id, row, col in clicks:
        tracker.add_points(0, obj_id, points=[[col, row]], labels=[1])  # (x, y) = (col, row)
    for obj_id, box in boxes:
        tracker.add_box(0, obj_id, box)
    out = np.zeros((tracker.num_frames, *tracker.video_hw), np.uint32)
    for result in tracker.propagate(direction=direction):
        image = outline_image(tracker, result.frame) if written else None
        out[result.frame] = result.paint_onto(out[result.frame], image) if written else result.label_image()
    return out
