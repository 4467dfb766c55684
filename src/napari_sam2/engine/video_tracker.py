"""The streaming video tracker: prompts on any frame at any time, propagation in either
direction, many objects sharing each frame's features, memory bounded at any video length."""
from __future__ import annotations

import contextlib
import hashlib
import threading
from typing import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from ..model import ImageEmbedding, SAM2Model, model_fingerprint
from ..model.frame_steps import (
    SpatialMemory,
    as_absent,
    condition_on_memory,
    decode_for_tracking,
    mask_as_output,
    without_memory,
)
from .averaged_views import decode_in_views, views_for
from .device import autocast, resolve_precision
from .feature_cache import FeatureCache, FeatureStore
from .frame_result import FrameResult, latest_result
from .frame_step import DecodedFrame, decode_objects, frame_memory, logits_of_others
from .indices import positive_count
from .memory_bank import (
    MEMORY_DTYPE,
    ClickPrompt,
    EncodingCache,
    MemoryEntry,
    MemoryTokens,
    MemoryView,
    ObjectMemory,
    entries_of,
)
from .memory_selection import frames_still_needed
from .model_inputs import PreprocessedFrames
from .postprocess import MaskCleanup, fill_small_holes, prompt_in_logits
from .preprocessing import Normalization
from .prompts import Prompt, check_frame_index, check_obj_id, check_prompt, model_points
from .propagation_plan import PropagationPlan, direction_signs, plan_runs


class _StopRequested(Exception):
    """request_stop() was called during a frame: its work is dropped."""


class VideoTracker:
    """Track objects through the frames of a video (a time-lapse, or a z-stack along z).

    frames: a FrameSource (see frames.py), or an object giving preprocessed model inputs
    (`len`, `[i]` -> (1, 3, S, S) tensor, `hw`), such as model_inputs.TensorFrames.
    Prompts are in the frame's pixel coordinates: points (x, y), boxes XYXY, masks (H, W).
    """

    def __init__(
        self,
        model: SAM2Model,
        frames,
        normalization: Normalization = Normalization(),
        channels: tuple[int, ...] | None = None,
        fill_hole_area: int = 8,
        feature_cache_size: int = 4,
        feature_store: FeatureStore | None = None,
        precision: str = "auto",
        separate_memories: bool = True,
        objects_per_call: int | None = None,
        cleanup: MaskCleanup = MaskCleanup(),
        cell_diameter: float | None = None,
        averaged_views: bool | None = None,
    ):
        """precision: "auto" (default: bfloat16 where the hardware runs it fast, else float32; see
        device.resolve_precision), "float32", "bfloat16" or "float16" (the model under autocast);
        `self.precision` is the one chosen.

        separate_memories: each pixel of a frame's memory (prompted or tracked) belongs to at most
        one object, the one with the highest logit there, as in the Labels layer (SAM 2's
        non_overlap_masks_for_mem_enc).
        Without it touching cells drift onto each other over time, each remembering some of
        the other's pixels. False reproduces the reference's default configuration.

        objects_per_call: at most this many objects in one call of memory attention, decoder
        and memory encoder (1: one call per object, as the reference); by default as many as
        batching.objects_per_call finds pay on this machine. Results are the same either way.

        cleanup: the masks' post-processing (one piece, no holes; engine/postprocess.py) on
        prompted frames, before the mask goes into memory; on tracked frames only its drop_dim (a
        mask no brighter than around it: the object is absent); MaskCleanup.off() for the model's
        masks as they are (as the reference).

        cell_diameter: a typical cell's width in the frames' pixels, if known: a click's mask is
        then judged against that cell's area rather than the frame's (engine/mask_check.py).

        averaged_views: a frame clicked with no memory yet (an object's first prompt) is decoded
        in the views of ImagePredictor and the masks averaged (engine/averaged_views.py); the
        memory is encoded from the frame as it is. None: as views_for decides for the model."""
        self.model = model.eval()
        self.precision = resolve_precision(precision, model)
        if not hasattr(frames, "hw"):
            frames = PreprocessedFrames(frames, model.cfg.image_size, normalization, channels)
        self.inputs = frames
        self.num_frames = len(frames)
        self.video_hw = tuple(frames.hw)
        self.fill_hole_area = fill_hole_area
        self.cleanup = cleanup
        self.views = views_for(model.cfg.image_size, averaged_views)
        self.cell_diameter = cell_diameter
        self.separate_memories = separate_memories
        self.objects_per_call = None if objects_per_call is None else positive_count(objects_per_call, "objects_per_call")
        self._settings_key = f"{normalization}|{channels}|{self.precision}"
        self._fingerprint: str | None = None  # of the model's weights, once a store needs it
        self.features = FeatureCache(self._encode_frame, feature_cache_size, feature_store, self._store_key)
        self._objects: dict[int, ObjectMemory] = {}
        self._memory_pe: torch.Tensor | None = None  # the same for every frame and object
        self._stop_requested = threading.Event()  # set from another thread to end a run early
        # logits (1, 1, S, S) in this tracker's input pixels: on a frame, the highest of the objects
        # tracked elsewhere (other tiles) other than those given; their memories are separated from those
        self.logits_elsewhere: Callable[[int, list[int]], torch.Tensor | None] | None = None

    # ---- objects and prompts -------------------------------------------------------------

    @property
    def object_ids(self) -> tuple[int, ...]:
        return tuple(self._objects)

    def conditioning_frames(self, obj_id: int) -> list[int]:
        return self._track_of(obj_id).conditioning_frames()

    def memory_view(self, obj_id: int) -> MemoryView:
        """A read-only look at what the tracker remembers of an object (frame -> MemoryEntry)."""
        return self._track_of(obj_id).view()

    def add_points(self, frame: int, obj_id: int, points=None, labels=None, box=None, clear: bool = True) -> FrameResult:
        """Clicks (and/or a box) for one object on one frame; returns every object's masks on that frame.
        With clear=True (default) they replace that frame's earlier clicks for the object. On a frame already
        tracked this is a correction: a conditioning frame, decoded with the object's memory and its previous mask."""
        frame, obj_id = check_frame_index(frame, self.num_frames), check_obj_id(obj_id)
        prompt = check_prompt(self.video_hw, points, labels, box)
        coords, point_labels = model_points(self.cleanup.model_prompt(prompt), self.video_hw, self.model.cfg.image_size)
        track = self._objects.get(obj_id) or ObjectMemory(obj_id)
        old = track.clicks.get(frame)
        if not clear and old is not None:
            coords, point_labels = torch.cat([old.coords, coords], 1), torch.cat([old.labels, point_labels], 1)
        with self._running():
            output, model_logits = self._decode_clicks(track, frame, coords, point_labels)
            again = self._asked_again(prompt, output, frame) if clear or old is None else None
            if again is not None:  # the mask spreads over other nuclei: asked again with them as negative clicks
                coords, point_labels = model_points(self.cleanup.model_prompt(again), self.video_hw, self.model.cfg.image_size)
                output, model_logits = self._decode_clicks(track, frame, coords, point_labels)
        self._objects[obj_id] = track
        track.prompt(frame, output, clicks=ClickPrompt(coords, point_labels))
        return self._frame_result(frame, (obj_id,)).checked(obj_id, prompt, self.model.cfg.image_size, model_logits,
                                                            self.cell_diameter)

    def add_box(self, frame: int, obj_id: int, box) -> FrameResult:
        return self.add_points(frame, obj_id, box=box)

    def add_mask(self, frame: int, obj_id: int, mask) -> FrameResult:
        """A mask prompt (H, W) for one object on one frame; it is taken as that frame's output."""
        frame, obj_id = check_frame_index(frame, self.num_frames), check_obj_id(obj_id)
        prompt = check_prompt(self.video_hw, mask=mask)
        size = self.model.cfg.image_size
        mask_tensor = torch.from_numpy(prompt.mask.astype(np.float32))[None, None]
        if mask_tensor.shape[-2:] != (size, size):
            mask_tensor = F.interpolate(mask_tensor, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
            mask_tensor = (mask_tensor >= 0.5).float()
        mask_tensor = mask_tensor.to(self.model.device)
        with self._running():
            raw = self.features(frame)
            out = mask_as_output(self.model, raw, mask_tensor)
            output = MemoryEntry(self._filled(out.low_res_logits), out.pointer, out.object_score_logits)
        self._objects.setdefault(obj_id, ObjectMemory(obj_id)).prompt(frame, output, mask=mask_tensor)
        return self._frame_result(frame, (obj_id,))

    def hand_over(self, frame: int, obj_id: int, mask, direction: int) -> FrameResult:
        """Take over an object another tracker followed up to `frame` in `direction` (FORWARD 1,
        BACKWARD -1), with its mask there as the prompt: propagation here goes on beyond it, and
        the frames behind it count as tracked (by the other tracker)."""
        result = self.add_mask(frame, obj_id, mask)
        behind = range(frame, -1 if direction > 0 else self.num_frames, -direction)
        self._track_of(result.updated_ids[0]).tracked_elsewhere(-direction, behind)
        return result

    def handed_off(self, frame: int, obj_id: int, direction: int) -> None:
        """The object went on in another tracker after `frame` (in `direction`): the frames
        beyond it count as tracked, so a propagation here does not take it up again."""
        beyond = range(frame + direction, self.num_frames if direction > 0 else -1, direction)
        self._track_of(obj_id).tracked_elsewhere(direction, beyond)

    def clear_frame(self, frame: int, obj_id: int | None = None) -> FrameResult:
        """Remove the prompts on a frame (of one object, or of all). The frame stops being a
        conditioning frame; what it produced stays as an ordinary tracked frame."""
        frame = check_frame_index(frame, self.num_frames)
        for track in [self._track_of(obj_id)] if obj_id is not None else list(self._objects.values()):
            track.unprompt(frame)
        return self._frame_result(frame, ())

    def frame_result(self, frame: int) -> FrameResult:
        """Every object's latest output on a frame, as it stands now (prompted or tracked)."""
        return self._frame_result(check_frame_index(frame, self.num_frames), ())

    def remove_object(self, obj_id: int) -> None:
        del self._objects[self._track_of(obj_id).obj_id]

    def prefetch(self, frame: int) -> None:
        """Compute a frame's image features now (e.g. in a background thread while a user looks
        at it), so that prompts there are decoded without waiting for the image encoder."""
        frame = check_frame_index(frame, self.num_frames)
        if frame not in self.features and not self.inputs.blank(frame):
            with self._running():
                self.features(frame)

    def forget_tracked(self) -> None:
        """Forget every propagated output; prompts and conditioning frames stay. After the labels
        of a propagation were thrown away (undo), the next one starts from the prompts alone."""
        for track in self._objects.values():
            track.forget_tracked()

    def reset(self) -> None:
        """Forget every object and prompt (cached image features stay)."""
        self._objects.clear()

    # ---- propagation -----------------------------------------------------------------------

    def plan(self, direction: str = "forward", start: int | None = None, max_frames: int | None = None) -> PropagationPlan:
        """Which frames `propagate` will track. direction: "forward", "backward" or "both"
        (forward, then backward). By default each object is tracked from its own prompts: from
        the first frame (in that direction, at or after its first prompted frame) not yet
        tracked that way since its prompts there changed, so a new object or a correction is
        tracked from where it was prompted and a stopped run goes on where it stopped; an object
        already tracked to the video's end is left as it is. start: track every object from this
        frame instead (backward from start - 1 after the forward run of "both"), as SAM 2 does.
        max_frames: at most this many frames per direction."""
        signs = direction_signs(direction)
        max_frames = None if max_frames is None else positive_count(max_frames, "max_frames")
        self._check_ready_to_propagate()
        if start is not None:
            start = check_frame_index(start, self.num_frames)
        return PropagationPlan(direction, plan_runs(self._objects, signs, start, max_frames, self.num_frames))

    def propagate(self, direction: str = "forward", start: int | None = None,
                  max_frames: int | None = None) -> Iterator[FrameResult]:
        """Track the objects frame by frame over `plan(direction, start, max_frames)`, yielding
        each frame's result as soon as it exists. Stopping the iteration between frames leaves
        the tracker usable, and the next default propagation goes on from there."""
        return self.run(self.plan(direction, start, max_frames))

    def run(self, plan: PropagationPlan) -> Iterator[FrameResult]:
        """Track over a plan (see `plan`), yielding each frame's result; a result's updated_ids
        are the objects tracked on its frame."""
        self.clear_stop()
        try:
            with self._running():
                self._encode_pending_memories()
        except _StopRequested:  # the frames encoded so far keep their memories
            return
        for run in plan.runs:
            for frame in run.frames:
                tracked_ids = [i for i in run.objects_on(frame) if i in self._objects]
                try:
                    with self._running():
                        result = self._track_frame(frame, run.direction, tracked_ids)
                except _StopRequested:
                    return
                yield result

    def request_stop(self) -> None:
        """End the running propagation (from another thread) at its next model call rather than
        after the whole frame: the frame in progress is dropped, so the tracker is as after the
        last frame yielded, and the next default propagation goes on from that frame."""
        self._stop_requested.set()

    def clear_stop(self) -> None:
        """Forget a request_stop: a new propagation begins (run, or a tiled tracker's steps)."""
        self._stop_requested.clear()

    def _between_model_calls(self) -> None:
        if self._stop_requested.is_set():
            raise _StopRequested

    def _check_ready_to_propagate(self) -> None:
        if not self._objects:
            raise RuntimeError("there is nothing to track: add points, a box or a mask for at least one object first")
        empty = [i for i, t in self._objects.items() if not t.conditioning_frames()]
        if empty:
            raise RuntimeError(f"objects {empty} have no prompt on any frame; prompt them or remove them with remove_object")

    def _encode_pending_memories(self) -> None:
        """Prompted frames get their memory before tracking, from the binarised mask the user saw:
        with separate_memories the pixels the object wins in the label image (a click on a dim
        cell touching a bright one often gives a mask of both, and the bright one's pixels,
        remembered as the dim cell's, made the two swap or merge later: issue 17). The objects
        prompted on one frame are encoded together, in object order (a tie goes to the first, as
        in the label image): one at a time, each against all the others, cost objects squared."""
        pending: dict[int, list[tuple[ObjectMemory, MemoryEntry]]] = {}  # frame -> its prompted objects
        for track in self._objects.values():
            for frame, output in track.pending_prompts():
                pending.setdefault(frame, []).append((track, output))
        for frame, prompted in sorted(pending.items()):
            ids = [track.obj_id for track, _ in prompted]
            logits = torch.cat([output.low_res_logits for _, output in prompted])
            scores = torch.cat([output.object_score.reshape(1, 1) for _, output in prompted])
            spatial = self._frame_memory(frame, self.features(frame), ids, logits, scores, binarize=True)
            self._memory_pe = spatial.position_encoding
            for k, (track, _) in enumerate(prompted):
                track.condition(frame, spatial.features[k : k + 1].to(MEMORY_DTYPE))

    def decode_step(self, frame: int, sign: int, tracked_ids: list[int]) -> DecodedFrame | None:
        """The first half of tracking one frame (the prompted frames' memories first): the objects'
        outputs there, nothing recorded yet; `remember_step` records them. Apart, so that a tiled
        tracker separates every tile's memories from the outputs of all tiles. None if stopped."""
        try:
            with self._running():
                self._encode_pending_memories()
                return self._decode_frame(frame, sign, [i for i in tracked_ids if i in self._objects])
        except _StopRequested:
            return None

    def remember_step(self, decoded: DecodedFrame) -> FrameResult | None:
        """The second half: the frame's memories encoded, its outputs recorded. None if stopped."""
        try:
            with self._running():
                return self._remember_frame(decoded)
        except _StopRequested:
            return None

    def _track_frame(self, frame: int, sign: int, tracked_ids: list[int]) -> FrameResult:
        return self._remember_frame(self._decode_frame(frame, sign, tracked_ids))

    def _decode_frame(self, frame: int, sign: int, tracked_ids: list[int]) -> DecodedFrame:
        if self.inputs.blank(frame):  # a dropped frame (shutter, focus lost): no object there, no memory of it
            return DecodedFrame(frame, sign, tuple(tracked_ids), (), None)
        raw = self.features(frame)
        self._between_model_calls()  # nothing of this frame is recorded until its last model call
        tracks = {obj_id: self._objects[obj_id] for obj_id in tracked_ids}
        encodings: EncodingCache = {}  # objects with the same memory layout share their position encodings
        memories = {
            obj_id: self._memory_tokens(track, frame, sign, encodings)
            for obj_id, track in tracks.items()
            if frame not in track.conditioning
        }
        ids, out = decode_objects(self.model, raw, memories, self.objects_per_call, self.fill_hole_area,
                                  self._between_model_calls)
        if out is not None:
            # a mask no brighter than around it: the object is absent here (MaskCleanup.drop_dim)
            out = as_absent(self.model, out, self.cleanup.dim_masks(out.low_res_logits, self.inputs[frame]))
            out = out._replace(low_res_logits=self.cleanup.touching_split(out.low_res_logits))
        return DecodedFrame(frame, sign, tuple(tracked_ids), tuple(ids), out)

    def _remember_frame(self, decoded: DecodedFrame) -> FrameResult:
        frame, sign, ids, out = decoded.frame, decoded.sign, list(decoded.decoded_ids), decoded.output
        tracks = {obj_id: self._objects[obj_id] for obj_id in decoded.tracked_ids}
        entries = {}
        if ids:
            raw = self.features(frame)
            memory = self._frame_memory(frame, raw, ids, out.low_res_logits, out.object_score_logits, binarize=False)
            entries = dict(zip(ids, entries_of(out, memory)))
        keep = frames_still_needed(frame, sign, self.model.cfg.memory.num_maskmem, self.model.cfg.pointers.max_pointers)
        for obj_id, track in tracks.items():
            track.passed(frame, sign, entries.get(obj_id))
            track.prune(keep)
        return self._frame_result(frame, decoded.tracked_ids)

    def _memory_tokens(self, track: ObjectMemory, frame: int, direction: int,
                       encodings: EncodingCache | None = None) -> MemoryTokens:
        return track.memory_tokens(self.model, frame, direction, self.num_frames, self._memory_pe, encodings=encodings)

    def _frame_memory(self, frame: int, raw: ImageEmbedding, ids: list[int], logits: torch.Tensor,
                      scores: torch.Tensor, binarize: bool) -> SpatialMemory:
        """The memory of the objects `ids` on a frame (frame_step.frame_memory), separated from the
        other objects' with separate_memories."""
        others = self._logits_of_others(frame, ids) if self.separate_memories else None
        return frame_memory(self.model, raw, logits, scores, binarize, self.separate_memories, others,
                            self.objects_per_call, self._between_model_calls)

    def _logits_of_others(self, frame: int, tracked_ids: list[int]) -> torch.Tensor | None:
        """The logits on a frame of the objects other than `tracked_ids` with an output there, and of
        those tracked elsewhere (`logits_elsewhere`): frame_step.logits_of_others."""
        own = [t.latest(frame) for i, t in self._objects.items() if i not in tracked_ids]
        elsewhere = None if self.logits_elsewhere is None else self.logits_elsewhere(frame, tracked_ids)
        return logits_of_others([o.low_res_logits for o in own if o is not None], elsewhere)

    # ---- helpers ---------------------------------------------------------------------------

    def _decode_clicks(self, track: ObjectMemory, frame: int, coords, labels) -> tuple[MemoryEntry, torch.Tensor]:
        """The prompted frame's output (cleaned up) and the (1, 1, 4h, 4w) logits the model gave."""
        device = self.model.device
        raw = self.features(frame)
        previous = track.latest(frame)
        prev_logits = None if previous is None else previous.low_res_logits.clamp(-32.0, 32.0)
        multimask = coords.shape[1] <= 1
        points = (coords.to(device), labels.to(device))
        if frame in track.directions and self._memory_pe is not None:
            embedding = condition_on_memory(self.model, raw, *self._memory_tokens(track, frame, track.directions[frame]))
            out = decode_for_tracking(self.model, embedding, raw.high_res, points, prev_logits, multimask)
        elif len(self.views) > 1:
            frame_input = self.inputs[frame].to(device)
            out = decode_in_views(self.model, frame_input, raw, self.views, points, prev_logits, multimask)
        else:
            out = decode_for_tracking(self.model, without_memory(self.model, raw), raw.high_res, points, prev_logits,
                                      multimask)
        anchors, box = prompt_in_logits((coords, labels), self.video_hw, self.model.cfg.image_size,
                                        tuple(out.low_res_logits.shape[-2:]))
        return (MemoryEntry(self._filled(out.low_res_logits, anchors, box), out.pointer, out.object_score_logits),
                out.low_res_logits)

    def _asked_again(self, prompt: Prompt, output: MemoryEntry, frame: int) -> Prompt | None:
        """The prompt to decode again for a clicked mask over other nuclei (MaskCleanup.asked_again), or None."""
        if not (self.cleanup.exclude_neighbours and self.cell_diameter):
            return None
        mask = F.interpolate(output.low_res_logits.float().cpu(), size=self.video_hw, mode="bilinear", align_corners=False)
        return self.cleanup.asked_again(prompt, mask[0, 0].numpy() > 0, self.inputs[frame], self.cell_diameter)

    def _filled(self, logits: torch.Tensor, anchors: np.ndarray | None = None, box: np.ndarray | None = None) -> torch.Tensor:
        """(B, 1, h, w) logits of a prompted frame with small holes filled, then cleaned up;
        anchors: (N, 2) positive clicks in the logits' pixels (None: the largest piece);
        box: the box prompt's XYXY there, or None (postprocess.prompt_in_logits)."""
        filled = fill_small_holes(logits, self.fill_hole_area)
        return self.cleanup.apply(filled, anchors, box)

    def _store_key(self, frame: int) -> str:
        """Names the model weights, preprocessing, precision and frame content of features."""
        if self._fingerprint is None:
            settings = hashlib.blake2b(self._settings_key.encode(), digest_size=8).hexdigest()
            self._fingerprint = f"{model_fingerprint(self.model)}-{settings}"
        return f"{self._fingerprint}/{self.inputs.digest(frame)}"

    def _running(self):
        """Inference mode, in the tracker's precision."""
        stack = contextlib.ExitStack()
        stack.enter_context(torch.inference_mode())
        stack.enter_context(autocast(self.precision, self.model))
        return stack

    def _encode_frame(self, frame: int) -> ImageEmbedding:
        with self._running():
            return self.model.encode_image_raw(self.inputs[frame].to(self.model.device))

    def _frame_result(self, frame: int, updated_ids: tuple[int, ...]) -> FrameResult:
        """Every object's latest output on the frame ("no object" where it has none there)."""
        latest = {obj_id: track.latest(frame) for obj_id, track in self._objects.items()}
        return latest_result(frame, latest, 4 * self.model.cfg.embedding_size, self.video_hw, updated_ids)

    def _track_of(self, obj_id: int) -> ObjectMemory:
        if obj_id not in self._objects:
            raise KeyError(f"unknown object id {obj_id!r}; known ids: {list(self._objects)}")
        return self._objects[obj_id]
