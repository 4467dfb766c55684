"""The engine: image predictor and video tracker over the pure-torch model."""
from .all_cells import track_all_cells
from .cell_detection import CellDetections, DetectionParams, detect_cells
from .cell_lineage import Lineage, Track
from .cell_tracker import CellFrame, CellTracker, CellTrackingParams
from .device import default_device
from .frame_result import FrameResult
from .frames import ArrayFrames, FrameSource, open_tiff_frames
from .image_predictor import ImagePredictor, Prediction
from .label_seeds import masks_from_labels
from .loading import load_model
from .model_inputs import PreprocessedFrames, TensorFrames
from .postprocess import MaskCleanup
from .preprocessing import Normalization, preprocess
from .tiled_predictor import TiledImagePredictor
from .tiled_tracker import TiledFrameResult, TiledVideoTracker
from .video_tracker import VideoTracker

__all__ = [
    "ArrayFrames", "CellDetections", "CellFrame", "CellTracker", "CellTrackingParams", "default_device",
    "detect_cells", "DetectionParams", "FrameResult", "FrameSource", "ImagePredictor", "Lineage", "load_model",
    "MaskCleanup", "masks_from_labels", "Normalization", "open_tiff_frames", "Prediction", "preprocess", "PreprocessedFrames",
    "TensorFrames", "TiledFrameResult", "TiledImagePredictor", "TiledVideoTracker", "Track", "track_all_cells",
    "VideoTracker",
]
