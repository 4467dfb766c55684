"""Storage: what napari-sam2 keeps on disk (Zarr)."""
from .feature_store import ZarrFeatureStore

__all__ = ["ZarrFeatureStore"]
