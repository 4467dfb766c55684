"""Which past outputs a frame's memory holds: pure functions of frame indices (no tensors).

As in the paper and the reference: every conditioning (prompted) frame, plus the
`num_maskmem - 1` frames just before the current one in the direction of tracking (if they
were tracked), plus object pointers from up to `max_pointers - 1` recent frames and from the
conditioning frames not in the future.
"""
from __future__ import annotations

from typing import Callable, Iterable, NamedTuple

FORWARD, BACKWARD = 1, -1


class MemorySlot(NamedTuple):
    frame: int
    slot: int  # temporal slot: picks maskmem_tpos_enc[slot]; conditioning frames use the last


class PointerSlot(NamedTuple):
    frame: int
    offset: int  # frames between the pointer's frame and the current one


def spatial_memory_frames(
    frame: int,
    direction: int,
    conditioning: Iterable[int],
    is_tracked: Callable[[int], bool],
    num_maskmem: int = 7,
) -> list[MemorySlot]:
    """Conditioning frames (slot num_maskmem - 1), then the recent tracked frames: the one just
    before gets slot 0, the one num_maskmem - 1 frames before gets slot num_maskmem - 2."""
    slots = [MemorySlot(t, num_maskmem - 1) for t in sorted(conditioning)]
    for distance in range(num_maskmem - 1, 0, -1):
        t = frame - direction * distance
        if is_tracked(t):
            slots.append(MemorySlot(t, distance - 1))
    return slots


def pointer_frames(
    frame: int,
    direction: int,
    conditioning: Iterable[int],
    is_tracked: Callable[[int], bool],
    num_frames: int,
    max_pointers: int = 16,
    signed_offsets: bool = False,
    only_past_conditioning: bool = True,
) -> list[PointerSlot]:
    """Object pointers: conditioning frames (not those ahead, by default), then up to
    max_pointers - 1 tracked frames just before, stopping at the video's ends."""
    slots = []
    for t in sorted(conditioning):
        ahead = (t - frame) * direction > 0
        if only_past_conditioning and ahead:
            continue
        offset = (frame - t) * direction if signed_offsets else abs(frame - t)
        slots.append(PointerSlot(t, offset))
    for distance in range(1, min(num_frames, max_pointers)):
        t = frame - direction * distance
        if not 0 <= t < num_frames:
            break
        if is_tracked(t):
            slots.append(PointerSlot(t, distance))
    return slots


def max_pointer_offset(num_frames: int, max_pointers: int = 16) -> int:
    """The offset that maps to 1.0 in the pointers' temporal encoding."""
    return min(num_frames, max_pointers) - 1


def frames_still_needed(frame: int, direction: int, num_maskmem: int = 7, max_pointers: int = 16) -> range:
    """Tracked frames the next frames in this direction can still use: the window just behind."""
    reach = max(num_maskmem - 1, max_pointers - 1)
    if direction == FORWARD:
        return range(frame - reach + 1, frame + 1)
    return range(frame, frame + reach)
