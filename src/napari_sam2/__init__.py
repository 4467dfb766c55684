"""napari-sam2: SAM 2 for microscopy, as a library and a napari plugin.

Scripting API (imports no napari):

    import napari_sam2 as ns
    model = ns.load_model("sam2.1_hiera_tiny")        # or a checkpoint path
    predictor = ns.ImagePredictor(model)
    predictor.set_image(image)                         # 2-D or (H, W, C); uint8/uint16/float
    pred = predictor.predict(points=[[120, 80]], labels=[1])
    mask = pred.masks[pred.scores.argmax()]
"""
from .engine import ImagePredictor, Normalization, Prediction, load_model
from .model import SAM2Config, SAM2Model, load_checkpoint, save_checkpoint

__version__ = "0.1.0"
__all__ = [
    "ImagePredictor", "Normalization", "Prediction", "SAM2Config", "SAM2Model",
    "load_checkpoint", "load_model", "save_checkpoint",
]
