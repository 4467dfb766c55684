"""Storage: what napari-sam2 keeps on disk (Zarr)."""
from .feature_store import ZarrFeatureStore
from .labels_store import LabelsStore, NotALabelsStore
from .store_opening import convert_legacy_store, new_labels_store, open_or_create_store

__all__ = ["LabelsStore", "NotALabelsStore", "ZarrFeatureStore", "convert_legacy_store", "new_labels_store",
           "open_or_create_store"]
