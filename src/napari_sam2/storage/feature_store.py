"""An on-disk cache of image features in a Zarr group, for videos revisited across sessions.

Keys come from the tracker: "<model and settings fingerprint>/<frame content digest>", so a
different model, checkpoint, normalisation or frame can never be served stale, and nothing
has to hash the whole video up front (each frame is hashed when it is needed).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import zarr

from ..model import ImageEmbedding

_PARTS = ("embedding", "high_res_0", "high_res_1", "position_encoding")


class ZarrFeatureStore:
    def __init__(self, path: str | Path, dtype: str = "float32"):
        """dtype "float16" halves the disk space (about 21 MB a frame in float32 at 1024) at a
        small cost in agreement; "float32" reproduces features exactly, bfloat16 ones too (they
        come back in the dtype they were computed in, so a session in bfloat16 that reads them
        from disk computes what one that encoded them did)."""
        if dtype not in ("float32", "float16"):
            raise ValueError(f"dtype must be 'float32' or 'float16', got {dtype!r}")
        self.root = zarr.open_group(str(path), mode="a")
        self.dtype = dtype

    def get(self, key: str) -> ImageEmbedding | None:
        if key not in self.root:
            return None
        group = self.root[key]
        if not group.attrs.get("complete", False):  # an interrupted write: recompute
            return None
        dtypes = group.attrs.get("torch_dtypes", ["float32"] * len(_PARTS))  # stores before them: float32
        tensors = [torch.from_numpy(np.asarray(group[name][...], dtype=np.float32)).to(getattr(torch, dtype))
                   for name, dtype in zip(_PARTS, dtypes)]
        return ImageEmbedding(tensors[0], [tensors[1], tensors[2]], tensors[3])

    def put(self, key: str, features: ImageEmbedding) -> None:
        parts = [features.embedding, features.high_res[0], features.high_res[1], features.position_encoding]
        group = self.root.require_group(key)
        group.attrs["complete"] = False
        group.attrs["torch_dtypes"] = [str(tensor.dtype).removeprefix("torch.") for tensor in parts]
        for name, tensor in zip(_PARTS, parts):
            data = tensor.detach().float().cpu().numpy().astype(self.dtype)
            group.create_array(name, shape=data.shape, dtype=data.dtype, chunks=data.shape, overwrite=True)[...] = data
        group.attrs["complete"] = True  # written last: a reader never sees half a frame
