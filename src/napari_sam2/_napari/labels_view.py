"""What the Labels layer shows: the store's Zarr array itself, so the screen is the disk.

The store is (frames, rows, columns). For a 3-D image that is the layer's data as is. For an
image with more axes (e.g. tracking z at one time point of a (T, Z, Y, X) image) the layer needs
as many dimensions as the image, since napari aligns a layer's axes with the image's last ones:
the view below adds a length-1 axis for every fixed axis, and the layer is translated to the
fixed index, so the labels appear on that slice only.
"""
from __future__ import annotations

import numpy as np

from .layout import FrameLayout


class FixedAxesView:
    """An N-D view of a (frames, rows, columns) array with length-1 axes at the fixed axes.
    Reads and writes go straight to the array (indexing with ints, slices or index arrays)."""

    def __init__(self, array, layout: FrameLayout):
        self.array = array
        self.fixed_axes = sorted(layout.fixed_dict)
        self.ndim = layout.ndim
        self.shape = tuple(1 if a in self.fixed_axes else s for a, s in enumerate(layout.shape))
        self.dtype = array.dtype

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def _full_key(self, key) -> tuple:
        key = key if isinstance(key, tuple) else (key,)
        if any(k is Ellipsis for k in key):
            at = next(i for i, k in enumerate(key) if k is Ellipsis)
            key = key[:at] + (slice(None),) * (self.ndim - len(key) + 1) + key[at + 1:]
        return key + (slice(None),) * (self.ndim - len(key))

    def _split(self, key):
        """The array's key, and the result axes where a sliced fixed axis must be re-inserted."""
        key = self._full_key(key)
        store_key = tuple(k for a, k in enumerate(key) if a not in self.fixed_axes)
        kept, inserted = 0, []
        for a, k in enumerate(key):
            if isinstance(k, slice):
                if a in self.fixed_axes:
                    inserted.append(kept)
                kept += 1
        return store_key, inserted

    def __getitem__(self, key):
        store_key, inserted = self._split(key)
        result = np.asarray(self.array[store_key])
        return np.expand_dims(result, tuple(inserted)) if inserted else result

    def __setitem__(self, key, value) -> None:
        store_key, inserted = self._split(key)
        value = np.asarray(value)
        slices = sum(isinstance(k, slice) for k in self._full_key(key))
        if inserted and value.ndim == slices:  # shaped like this view's slice: drop the fixed axes
            value = np.squeeze(value, axis=tuple(inserted))
        self.array[store_key] = value

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self[...], dtype=dtype)


def labels_layer_data(array, layout: FrameLayout):
    """The Labels layer's data for a store array: the array itself (3-D) or a FixedAxesView."""
    return FixedAxesView(array, layout) if layout.fixed else array


def labels_translate(image_scale, image_translate, layout: FrameLayout) -> np.ndarray:
    """The image's translation, moved to the fixed slices (a view's fixed axes have length 1)."""
    translate = np.asarray(image_translate, dtype=float).copy()
    for a, index in layout.fixed:
        translate[a] += index * float(image_scale[a])
    return translate
