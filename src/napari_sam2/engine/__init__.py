"""The engine: image predictor and video tracker over the pure-torch model."""
from .cell_detection import CellDetections, DetectionParams, detect_cells
from .device import default_device
from .frame_result import FrameResult
from .frames import ArrayFrames, FrameSource, open_tiff_frames
from .image_predictor import ImagePredictor, Prediction
from .label_seeds import masks_from_labels
from .loading import load_model
from .model_inputs import PreprocessedFrames, TensorFrames
from .preprocessing import Normalization, preprocess
from .tiled_predictor import TiledImagePredictor
from .video_tracker import VideoTracker

__all__ = [
    "ArrayFrames", "CellDetections", "DetectionParams", "FrameResult", "FrameSource", "ImagePredictor",
    "Normalization", "Prediction", "PreprocessedFrames", "TensorFrames", "TiledImagePredictor", "VideoTracker",
    "default_device", "detect_cells", "load_model", "masks_from_labels", "open_tiff_frames", "preprocess",
]
