"""Parity of the video tracker with the reference SAM2VideoPredictor: same random weights,
identical preprocessed frames, the same prompts and propagation calls.

Both run at image_size 512 (same weights; the reference accepts the override) to keep CI
fast; a slow test runs clicks, a box and forward propagation at the official 1024."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from PIL import Image

from napari_sam2.engine.model_inputs import TensorFrames
from napari_sam2.engine.postprocess import MaskCleanup
from napari_sam2.engine.preprocessing import REFERENCE, preprocess
from napari_sam2.engine.video_tracker import VideoTracker
from napari_sam2.model import OFFICIAL_CONFIGS, SAM2Model, load_into
from napari_sam2.testing.reference import REFERENCE_CONFIG_FILES, randomize
from napari_sam2.testing.synthetic import moving_nuclei_video

LOGIT_TOL = 1e-3
MIN_IOU = 0.999


def _memory_to_float32(module, args, kwargs):
    kwargs["memory"] = kwargs["memory"].float()
    return args, kwargs


class VideoPair:
    def __init__(self, name: str, tmp_path, image_size: int = 512, num_frames: int = 12, seed: int = 3):
        from sam2.build_sam import build_sam2_video_predictor

        torch.manual_seed(seed)
        self.reference = build_sam2_video_predictor(
            REFERENCE_CONFIG_FILES[name], None, device="cpu", hydra_overrides_extra=[f"++model.image_size={image_size}"]
        )
        # As in the paper: a correction on a tracked frame makes it a conditioning frame.
        self.reference.add_all_frames_to_correct_as_cond = True
        # The reference stores memories in bfloat16; when a frame's memory holds no object
        # pointer (nothing float32 to promote them) its CPU path fails with a dtype error. The
        # cast below is exact (bf16 -> fp32) and is what the promotion does in every other case.
        self.reference.memory_attention.register_forward_pre_hook(_memory_to_float32, with_kwargs=True)
        state = randomize(self.reference, seed)
        self.ours_model = SAM2Model(dataclasses.replace(OFFICIAL_CONFIGS[name], image_size=image_size))
        load_into(self.ours_model, state)
        frames, self.labels = moving_nuclei_video(num_frames, seed=seed, dtype=np.uint8)
        rgb = np.repeat(frames[..., None], 3, axis=-1)
        self.hw = frames.shape[1:]
        tensor = torch.cat([preprocess(f, image_size, norm=REFERENCE)[0] for f in rgb])  # the reference's uint8 / 255
        self.state = self._reference_state(rgb, tensor, tmp_path)
        # The reference fills holes only with its CUDA extension (skipped on CPU): so do we here.
        # Separate memories off: in sam2 1.1.0 each object is tracked alone, so its
        # non_overlap_masks_for_mem_enc never sees two objects at once.
        self.ours = VideoTracker(self.ours_model, TensorFrames(tensor, self.hw), fill_hole_area=0, separate_memories=False,
                                   precision="float32", cleanup=MaskCleanup.off(), averaged_views=False)

    def _reference_state(self, rgb, tensor, tmp_path):
        folder = tmp_path / "jpg"
        folder.mkdir()
        for i, frame in enumerate(rgb):
            Image.fromarray(frame).save(folder / f"{i:05d}.jpg")
        state = self.reference.init_state(str(folder))
        state["images"] = tensor  # identical preprocessed frames, not a JPEG round trip
        state["cached_features"] = {}
        return state

    def compare(self, ref_output, ours_result):
        frame, obj_ids, ref_logits = ref_output
        assert frame == ours_result.frame
        assert tuple(obj_ids) == ours_result.object_ids
        ours = ours_result.logits()
        ref = ref_logits[:, 0].float()
        assert (ref - ours).abs().max() <= LOGIT_TOL, f"frame {frame}"
        for k in range(len(obj_ids)):
            a, b = ref[k] > 0, ours[k] > 0
            union = (a | b).sum().item()
            iou = 1.0 if union == 0 else (a & b).sum().item() / union
            assert iou >= MIN_IOU, f"frame {frame} object {obj_ids[k]}: IoU {iou}"

    def propagate_both(self, **kwargs):
        """The same propagation in both; a start frame is always given, since the reference
        tracks every object from it (our default tracks each object from its own prompts)."""
        kwargs.setdefault("start", 0)
        reverse = kwargs.pop("direction", "forward") == "backward"
        ref = list(self.reference.propagate_in_video(self.state, reverse=reverse, **{
            {"start": "start_frame_idx"}.get(k, k): v for k, v in kwargs.items()}))
        ours = list(self.ours.propagate(direction="backward" if reverse else "forward", **kwargs))
        assert [r[0] for r in ref] == [o.frame for o in ours]
        for r, o in zip(ref, ours):
            self.compare(r, o)
        return ours


def click_frame0_box_frame3(pair: VideoPair) -> None:
    """Object 1 clicked on frame 0, object 2 boxed on frame 3, in both implementations."""
    ref, ours, state = pair.reference, pair.ours, pair.state
    with torch.inference_mode():
        click = dict(points=np.array([[60.0, 80.0]], np.float32), labels=np.array([1], np.int32))
        pair.compare(ref.add_new_points_or_box(state, 0, 1, **click), ours.add_points(0, 1, click["points"], click["labels"]))
        box = np.array([120.0, 40.0, 200.0, 110.0], np.float32)
        pair.compare(ref.add_new_points_or_box(state, 3, 2, box=box), ours.add_points(3, 2, box=box))


@pytest.mark.parametrize("name", ["sam2.1_hiera_tiny", "sam2_hiera_tiny"])
def test_clicks_box_correction_forward_then_backward(name, tmp_path):
    pair = VideoPair(name, tmp_path)
    ref, ours, state = pair.reference, pair.ours, pair.state
    last = len(pair.labels) - 1
    click_frame0_box_frame3(pair)
    pair.propagate_both()
    correction = dict(points=np.array([[70.0, 90.0]], np.float32), labels=np.array([1], np.int32))
    with torch.inference_mode():
        pair.compare(ref.add_new_points_or_box(state, 7, 1, **correction),
                     ours.add_points(7, 1, correction["points"], correction["labels"]))
    assert ours.conditioning_frames(1) == [0, 7]
    pair.propagate_both(start=7)
    pair.propagate_both(start=last, direction="backward")


def test_mask_prompt_and_an_object_leaving_and_returning(tmp_path):
    pair = VideoPair("sam2.1_hiera_tiny", tmp_path, seed=5)
    ref, ours, state = pair.reference, pair.ours, pair.state
    mask = pair.labels[2] == 1  # nucleus 1 leaves through the right border and comes back
    with torch.inference_mode():
        pair.compare(ref.add_new_mask(state, 2, 1, mask), ours.add_mask(2, 1, mask))
        click = dict(points=np.array([[100.0, 60.0], [30.0, 30.0]], np.float32), labels=np.array([1, 0], np.int32))
        pair.compare(ref.add_new_points_or_box(state, 2, 4, **click), ours.add_points(2, 4, click["points"], click["labels"]))
    pair.propagate_both(start=2)
    pair.propagate_both(start=2, direction="backward")


@pytest.mark.slow
def test_official_input_size_1024(tmp_path):
    """The same code at the official 1024 input: clicks, a box, forward propagation."""
    pair = VideoPair("sam2.1_hiera_tiny", tmp_path, image_size=1024)
    click_frame0_box_frame3(pair)
    pair.propagate_both()
