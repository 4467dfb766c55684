"""Rotary encoding in place (model/rope.py rotate_): the same numbers as a rotated copy."""
from __future__ import annotations

import torch

from napari_sam2.model.rope import rope_angles_2d, rotate, rotate_, rotations


def keys_with_pointers(heads: int = 2, frames: int = 3, side: int = 4, pointers: int = 5, head_dim: int = 8):
    """(B, heads, M, c) keys laid out as an attention's projection gives them: (B, M, heads * c)
    memory seen through its heads, spatial tokens of `frames` grids, then pointer tokens."""
    g = torch.Generator().manual_seed(0)
    projected = torch.randn(2, frames * side * side + pointers, heads * head_dim, generator=g)
    return projected.reshape(2, -1, heads, head_dim).transpose(1, 2), frames * side * side


def test_in_place_rotation_is_bitwise_the_rotated_copy_and_leaves_the_pointers():
    keys, spatial = keys_with_pointers()
    rotation = rotations(rope_angles_2d(8, 4, 4))
    before = keys.clone()
    expected = rotate(keys[:, :, :spatial], rotation)
    with torch.inference_mode():
        rotated = rotate_(keys[:, :, :spatial], rotation)
    assert rotated.data_ptr() == keys.data_ptr()  # in place
    assert torch.equal(keys[:, :, :spatial], expected)
    assert torch.equal(keys[:, :, spatial:], before[:, :, spatial:])


def test_a_copy_where_gradients_are_recorded_or_in_reduced_precision():
    rotation = rotations(rope_angles_2d(8, 4, 4))
    for keys, grad in ((keys_with_pointers()[0].requires_grad_(), True), (keys_with_pointers()[0].bfloat16(), False)):
        before = keys.detach().clone()
        with torch.set_grad_enabled(grad):
            rotated = rotate_(keys[:, :, :48], rotation)
        assert rotated.data_ptr() != keys.data_ptr() and torch.equal(keys.detach(), before)
        assert torch.equal(rotated, rotate(keys[:, :, :48], rotation))
