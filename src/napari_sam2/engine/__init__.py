"""The engine: predictors over images (and, later, videos) built on the pure-torch model."""
from .image_predictor import ImagePredictor, Prediction
from .loading import load_model
from .preprocessing import Normalization, preprocess

__all__ = ["ImagePredictor", "Normalization", "Prediction", "load_model", "preprocess"]
