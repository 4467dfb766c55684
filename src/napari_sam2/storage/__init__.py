"""Storage: what napari-sam2 keeps on disk (Zarr)."""
from .feature_store import ZarrFeatureStore
from .labels_store import LabelsStore, NotALabelsStore, new_labels_store

__all__ = ["LabelsStore", "NotALabelsStore", "ZarrFeatureStore", "new_labels_store"]
