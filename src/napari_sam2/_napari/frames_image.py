"""The frames a session tracks, as an image layer of their own: a time-lapse of several channels
(or of z-stacks) opened as one layer is tracked with clicks at the channel (or plane) on screen,
but every cell is tracked on a layer of frames, rows and columns only (cell_tracking.py). This
opens that layer, lazily where the data is lazy (a view of numpy, a slice of dask or zarr)."""
from __future__ import annotations

from .session import image_data


def open_frames_image(viewer, image_layer, layout):
    """Adds to `viewer` the frames of `image_layer` along layout.axis, every other axis at its fixed
    index (layout.fixed), with the layer's scale, offset and display; returns the new layer."""
    data = image_data(image_layer)
    fixed = layout.fixed_dict
    kept = [a for a in range(data.ndim) if a not in fixed]
    named = ", ".join(f"{_axis_name(viewer, image_layer, a)}={i}" for a, i in sorted(fixed.items()))
    spatial = [a for a in kept if a < image_layer.ndim]  # an RGB layer's colour axis has no scale
    return viewer.add_image(
        data[tuple(fixed.get(a, slice(None)) for a in range(data.ndim))], name=f"{image_layer.name} [{named}]",
        scale=[image_layer.scale[a] for a in spatial], translate=[image_layer.translate[a] for a in spatial],
        rgb=image_layer.rgb, colormap=image_layer.colormap, contrast_limits=image_layer.contrast_limits)


def _axis_name(viewer, image_layer, axis: int) -> str:
    """The viewer's label of a layer's axis (e.g. "c"), or "axis 1" where napari numbers it (-3, ...)."""
    labels = list(viewer.dims.axis_labels)[viewer.dims.ndim - image_layer.ndim:]
    label = str(labels[axis]) if axis < len(labels) else ""
    return f"axis {axis}" if label.lstrip("-").isdigit() or not label else label
