"""Memory selection as pure functions of frame indices."""
from napari_sam2.engine.memory_selection import (
    BACKWARD,
    FORWARD,
    frames_still_needed,
    max_pointer_offset,
    pointer_frames,
    spatial_memory_frames,
)


def tracked(frames):
    return set(frames).__contains__


def test_forward_memory_is_conditioning_plus_six_previous_frames():
    slots = spatial_memory_frames(20, FORWARD, [0], tracked(range(1, 20)))
    assert slots[0] == (0, 6)  # the prompted frame uses the last temporal slot
    assert [(s.frame, s.slot) for s in slots[1:]] == [(14, 5), (15, 4), (16, 3), (17, 2), (18, 1), (19, 0)]


def test_backward_memory_looks_at_the_following_frames():
    slots = spatial_memory_frames(10, BACKWARD, [30], tracked(range(11, 30)))
    assert [s.frame for s in slots] == [30, 16, 15, 14, 13, 12, 11]
    assert slots[-1].slot == 0


def test_several_conditioning_frames_and_gaps():
    slots = spatial_memory_frames(9, FORWARD, [0, 7, 40], tracked([3, 5, 8]))
    assert [(s.frame, s.slot) for s in slots] == [(0, 6), (7, 6), (40, 6), (3, 5), (5, 3), (8, 0)]


def test_near_the_start_there_are_fewer_memories():
    assert spatial_memory_frames(1, FORWARD, [0], tracked([])) == [(0, 6)]


def test_pointers_forward_past_conditioning_only_and_recent_frames():
    slots = pointer_frames(20, FORWARD, [0, 25], tracked(range(1, 20)), num_frames=100)
    assert slots[0] == (0, 20)  # frame 25 is in the future: no pointer from it
    assert [s.frame for s in slots[1:]] == list(range(19, 4, -1))  # 15 recent frames
    assert [s.offset for s in slots[1:]] == list(range(1, 16))


def test_signed_offsets_backward():
    slots = pointer_frames(10, BACKWARD, [12, 3], tracked([11]), num_frames=50, signed_offsets=True)
    assert slots == [(12, 2), (11, 1)]
    unsigned = pointer_frames(10, BACKWARD, [12], tracked([]), num_frames=50, signed_offsets=False)
    assert unsigned == [(12, 2)]


def test_pointers_stop_at_the_video_ends_and_short_videos():
    assert [s.frame for s in pointer_frames(2, FORWARD, [], tracked(range(10)), num_frames=10)] == [1, 0]
    assert [s.frame for s in pointer_frames(7, BACKWARD, [], tracked(range(10)), num_frames=10)] == [8, 9]
    assert max_pointer_offset(5) == 4 and max_pointer_offset(500) == 15


def test_window_kept_for_the_next_frames():
    keep = frames_still_needed(100, FORWARD)
    assert min(keep) == 86 and max(keep) == 100
    assert all(s.frame in keep for s in pointer_frames(101, FORWARD, [], tracked(range(101)), num_frames=1000))
    keep = frames_still_needed(100, BACKWARD)
    assert min(keep) == 100 and max(keep) == 114
    assert all(s.frame in keep for s in spatial_memory_frames(99, BACKWARD, [], tracked(range(100, 200))))
