"""Storage: what napari-sam2 keeps on disk (Zarr)."""
from .feature_store import ZarrFeatureStore
from .labels_store import LabelsStore

__all__ = ["LabelsStore", "ZarrFeatureStore"]
