"""Parity with the reference `sam2` 1.1.0: the same random weights in both implementations,
the same preprocessed input, every intermediate compared. Tolerance: 1e-4 on logits (float32)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_sam2.engine import ImagePredictor, MaskCleanup
from napari_sam2.model import OFFICIAL_CONFIGS, SAM2Model, load_into
from napari_sam2.testing.reference import build_reference, randomize
from napari_sam2.testing.synthetic import rgb_uint8

TOL = 1e-4

# (name, prompt) cases; coordinates are (x, y) pixels of the 240 x 320 test image.
PROMPTS = {
    "one_positive_point": dict(points=[[150.0, 90.0]], labels=[1]),
    "positive_and_negative_points": dict(points=[[150.0, 90.0], [40.0, 200.0], [210.5, 33.2]], labels=[1, 0, 1]),
    "box": dict(box=[100.0, 50.0, 220.0, 170.0]),
    "box_with_points": dict(box=[100.0, 50.0, 220.0, 170.0], points=[[150.0, 90.0], [110.0, 160.0]], labels=[1, 0]),
}


class Pair:
    """The reference and our model holding the same random weights, with one image set."""

    def __init__(self, name: str, seed: int):
        from sam2.sam2_image_predictor import SAM2ImagePredictor

        torch.manual_seed(seed)
        self.reference = build_reference(name)
        state = randomize(self.reference, seed)
        self.ours = SAM2Model(OFFICIAL_CONFIGS[name])
        load_into(self.ours, state)
        self.ours.eval()
        self.image = rgb_uint8(seed)
        self.ref_predictor = SAM2ImagePredictor(self.reference)
        self.ref_predictor.set_image(self.image)
        self.model_input = self.ref_predictor._transforms(self.image)[None]
        self.our_predictor = ImagePredictor(self.ours, precision="float32", cleanup=MaskCleanup.off(),
                                            averaged_views=False)  # the reference has no clean-up, one view
        self.our_predictor.set_model_input(self.model_input, self.image.shape[:2])


@pytest.fixture(scope="module", params=["sam2.1_hiera_tiny", "sam2_hiera_tiny"])
def pair(request) -> Pair:
    return Pair(request.param, seed=7)


def max_diff(a, b) -> float:
    return float((torch.as_tensor(np.asarray(a)) - torch.as_tensor(np.asarray(b))).abs().max())


@torch.no_grad()
def test_every_fpn_level_and_position_encoding(pair: Pair):
    ref = pair.reference.image_encoder(pair.model_input)
    ours = pair.ours.image_encoder(pair.model_input)
    assert len(ref["backbone_fpn"]) == len(ours.levels) == 3
    for level, (r, o) in enumerate(zip(ref["backbone_fpn"], ours.levels)):
        assert r.shape == o.shape, level
        assert max_diff(r, o) <= TOL, f"FPN level {level}"
    for r, o in zip(ref["vision_pos_enc"], ours.position_encodings):
        assert max_diff(r, o) <= TOL


@torch.no_grad()
def test_decoder_inputs_match_after_projection_and_no_mem_embed(pair: Pair):
    ref = pair.ref_predictor._features
    ours = pair.our_predictor._embedding
    assert max_diff(ref["image_embed"], ours.embedding) <= TOL
    for r, o in zip(ref["high_res_feats"], ours.high_res):
        assert max_diff(r, o) <= TOL


def _ref_tensors(pair: Pair, prompt: dict, mask_logits=None):
    """The reference predictor's own prompt preparation, as it does inside predict()."""
    p = pair.ref_predictor
    mask_input, coords, labels, box = p._prep_prompts(
        np.array(prompt["points"]) if "points" in prompt else None,
        np.array(prompt["labels"]) if "labels" in prompt else None,
        np.array(prompt["box"]) if "box" in prompt else None,
        mask_logits,
        True,
    )
    if box is not None:
        box_coords = box.reshape(-1, 2, 2)
        box_labels = torch.tensor([[2, 3]], dtype=torch.int)
        coords = box_coords if coords is None else torch.cat([box_coords, coords], 1)
        labels = box_labels if labels is None else torch.cat([box_labels, labels], 1)
    points = None if coords is None else (coords, labels)
    return points, mask_input


@torch.no_grad()
@pytest.mark.parametrize("case", list(PROMPTS))
def test_prompt_encoder_outputs(pair: Pair, case: str):
    points, _ = _ref_tensors(pair, PROMPTS[case])
    ref_sparse, ref_dense = pair.reference.sam_prompt_encoder(points=points, boxes=None, masks=None)
    sparse, dense = pair.ours.sam_prompt_encoder(points, None, None)
    assert ref_sparse.shape == sparse.shape
    assert max_diff(ref_sparse, sparse) <= TOL
    assert max_diff(ref_dense, dense) <= TOL
    assert max_diff(pair.reference.sam_prompt_encoder.get_dense_pe(), pair.ours.sam_prompt_encoder.dense_pe()) <= TOL


@torch.no_grad()
def test_prompt_encoder_mask_input(pair: Pair):
    logits = torch.randn(1, 1, 256, 256, generator=torch.Generator().manual_seed(3)) * 8
    points, _ = _ref_tensors(pair, PROMPTS["one_positive_point"])
    ref_sparse, ref_dense = pair.reference.sam_prompt_encoder(points=points, boxes=None, masks=logits)
    sparse, dense = pair.ours.sam_prompt_encoder(points, None, logits)
    assert max_diff(ref_sparse, sparse) <= TOL
    assert max_diff(ref_dense, dense) <= TOL


def _ref_object_score(pair: Pair, prompt: dict, multimask: bool, mask_logits=None) -> float:
    points, mask_input = _ref_tensors(pair, prompt, mask_logits)
    model = pair.reference
    sparse, dense = model.sam_prompt_encoder(points=points, boxes=None, masks=mask_input)
    feats = pair.ref_predictor._features
    *_, object_logits = model.sam_mask_decoder(
        image_embeddings=feats["image_embed"], image_pe=model.sam_prompt_encoder.get_dense_pe(),
        sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense, multimask_output=multimask,
        repeat_image=False, high_res_features=list(feats["high_res_feats"]),
    )
    return float(object_logits[0, 0])


def _compare_prediction(pair: Pair, prompt: dict, multimask: bool, mask_logits=None):
    ref_masks, ref_ious, ref_low = pair.ref_predictor.predict(
        point_coords=np.array(prompt["points"]) if "points" in prompt else None,
        point_labels=np.array(prompt["labels"]) if "labels" in prompt else None,
        box=np.array(prompt["box"]) if "box" in prompt else None,
        mask_input=mask_logits, multimask_output=multimask, return_logits=True,
    )
    ours = pair.our_predictor.predict(**prompt, mask_logits=mask_logits, multimask=multimask, return_logits=True)
    assert ours.masks.shape == ref_masks.shape == (3 if multimask else 1, 240, 320)
    assert max_diff(ref_low, ours.low_res_logits) <= TOL
    assert max_diff(ref_masks, ours.masks) <= TOL
    assert max_diff(ref_ious, ours.scores) <= TOL
    assert abs(_ref_object_score(pair, prompt, multimask, mask_logits) - ours.object_score) <= TOL
    # The comparison means something only if the outputs are not trivial.
    assert np.abs(ours.low_res_logits).max() > 0.1
    return ours


@pytest.mark.parametrize("multimask", [True, False])
@pytest.mark.parametrize("case", list(PROMPTS))
def test_decoder_masks_ious_and_object_scores(pair: Pair, case: str, multimask: bool):
    _compare_prediction(pair, PROMPTS[case], multimask)


@pytest.mark.parametrize("multimask", [True, False])
def test_mask_input_from_a_previous_prediction(pair: Pair, multimask: bool):
    first = pair.our_predictor.predict(**PROMPTS["one_positive_point"], multimask=True)
    previous = first.low_res_logits[first.scores.argmax()][None]  # (1, 256, 256)
    _compare_prediction(pair, PROMPTS["positive_and_negative_points"], multimask, mask_logits=previous)
    _compare_prediction(pair, {}, multimask, mask_logits=previous)


@pytest.mark.slow
def test_larger_size_sam21_base_plus_end_to_end():
    pair = Pair("sam2.1_hiera_base_plus", seed=11)
    with torch.no_grad():
        ref = pair.reference.image_encoder(pair.model_input)
        ours = pair.ours.image_encoder(pair.model_input)
    for r, o in zip(ref["backbone_fpn"], ours.levels):
        assert max_diff(r, o) <= TOL
    for case in PROMPTS:
        for multimask in (True, False):
            _compare_prediction(pair, PROMPTS[case], multimask)
