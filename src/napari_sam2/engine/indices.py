"""Checking the integers users pass: frame indices, axes, counts. One rule each, with errors
that say what was wrong and what is allowed.

Whole-number floats are accepted (napari coordinates are floats: a click on frame 2 has 2.0),
anything else that is not a whole number is refused."""
from __future__ import annotations

import numbers


def as_integer(value, what: str) -> int:
    """`value` as an int if it is a whole number (2 or 2.0); a ValueError for other numbers
    (2.5), a TypeError for what is not a number ("2")."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"the {what} must be an integer, got {value!r}")
    if isinstance(value, numbers.Integral):
        return int(value)
    if not float(value).is_integer():
        raise ValueError(f"the {what} must be an integer, got {value!r}")
    return int(value)


def frame_index(frame, num_frames: int) -> int:
    """A frame index in 0 .. num_frames - 1 as an int, or an error saying which frames exist."""
    index = as_integer(frame, "frame")
    if not 0 <= index < num_frames:
        raise IndexError(f"frame {frame!r} is outside the video, which has frames 0 to {num_frames - 1}")
    return index


def axis_index(axis, ndim: int, what: str = "axis") -> int:
    """An axis of an ndim-D array in 0 .. ndim - 1; negative axes count from the end (-1 is the
    last). An axis outside the array is an error, never wrapped around."""
    index = as_integer(axis, what)
    if not -ndim <= index < ndim:
        raise ValueError(
            f"{what}={axis!r} is outside an array with {ndim} axes: use 0 to {ndim - 1} "
            f"(or -{ndim} to -1 counting from the end)"
        )
    return index % ndim


def positive_count(count, what: str) -> int:
    """A count of 1 or more (e.g. frames to propagate); 0 or less would silently do nothing."""
    number = as_integer(count, what)
    if number < 1:
        raise ValueError(f"{what} must be 1 or more, got {count!r}; leave it out (None) to go to the end of the video")
    return number
