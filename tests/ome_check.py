"""A labels store read as other tools read it: validated with ome-zarr-models, read with ome-zarr-py."""
import numpy as np
import zarr
from ome_zarr.io import parse_url
from ome_zarr.reader import Label, Reader
from ome_zarr_models import open_ome_zarr
from ome_zarr_models.v05.image_label import ImageLabel


def read_as_ome_labels(path):
    """(labels, axis names, scale, units) of the OME-Zarr 0.5 label image at `path`; fails if
    ome-zarr-models finds it invalid or ome-zarr-py does not see a label image."""
    assert isinstance(open_ome_zarr(zarr.open_group(str(path), mode="r")), ImageLabel)
    (node,) = list(Reader(parse_url(str(path)))())
    assert any(isinstance(spec, Label) for spec in node.specs)
    axes = "".join(a["name"] for a in node.metadata["axes"])
    scale = next(t["scale"] for t in node.metadata["coordinateTransformations"][0] if t["type"] == "scale")
    units = tuple(a.get("unit") for a in node.metadata["axes"])
    return np.asarray(node.data[0]), axes, scale, units
