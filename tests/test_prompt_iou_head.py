"""The second IoU head (DecoderConfig.prompt_iou_head): it ranks the masks of prompted decodes only,
starts as a copy of the IoU head, survives a checkpoint, and is trained alone by the training CLI."""
from __future__ import annotations

import torch

from napari_sam2.model import SAM2Model, load_checkpoint, save_checkpoint, with_prompt_iou_head
from napari_sam2.model.prompt_iou_head import PROMPT_HEAD, TRACKING_HEAD
from napari_sam2.model.sam2 import prompted_rows
from napari_sam2.training.cli import main as training_cli
from tiny_config import MICRO_TEST_CONFIG


def tiny_model(seed: int = 0) -> SAM2Model:
    torch.manual_seed(seed)
    return SAM2Model(MICRO_TEST_CONFIG).eval()


def decode_two_rows(model: SAM2Model):
    """Row 0 decoded with SAM 2's padding point alone (as from memory), row 1 from a click."""
    torch.manual_seed(1)
    image = torch.rand(1, 3, 256, 256)
    with torch.no_grad():
        embedding = model.encode_image(image)
        coords = torch.tensor([[[128.0, 128.0]], [[100.0, 140.0]]])
        labels = torch.tensor([[-1], [1]], dtype=torch.int32)
        return model.decode(embedding, (coords, labels), multimask=True)


def test_prompted_rows_are_those_with_a_click_a_box_or_a_mask():
    labels = torch.tensor([[-1, -1], [1, -1], [0, -1]], dtype=torch.int32)
    points = (torch.zeros(3, 2, 2), labels)
    assert prompted_rows(3, points, None, None).tolist() == [False, True, True]  # a negative click is a prompt
    assert prompted_rows(3, points, torch.zeros(3, 4), None).tolist() == [True] * 3
    assert prompted_rows(2, None, None, torch.zeros(2, 1, 64, 64)).tolist() == [True, True]
    assert prompted_rows(2, None, None, None).tolist() == [False, False]


def test_models_without_the_option_have_one_head():
    assert not any(key.startswith(PROMPT_HEAD) for key in tiny_model().state_dict())


def test_a_new_prompt_head_ranks_as_the_model_did():
    model = tiny_model()
    grown = with_prompt_iou_head(model)
    assert grown.cfg.decoder.prompt_iou_head and not model.cfg.decoder.prompt_iou_head
    before, after = decode_two_rows(model), decode_two_rows(grown)
    assert torch.equal(before.iou_scores, after.iou_scores)
    assert torch.equal(before.mask_logits, after.mask_logits)
    assert with_prompt_iou_head(grown) is grown


def test_the_prompt_head_ranks_prompted_rows_only():
    model = with_prompt_iou_head(tiny_model())
    before = decode_two_rows(model)
    with torch.no_grad():
        for parameter in model.sam_mask_decoder.prompt_iou_prediction_head.parameters():
            parameter.add_(0.5 * torch.randn_like(parameter))
    after = decode_two_rows(model)
    assert torch.equal(after.iou_scores[0], before.iou_scores[0])  # decoded from memory: the IoU head's
    assert not torch.allclose(after.iou_scores[1], before.iou_scores[1], atol=1e-3)  # clicked: the prompt head's
    assert torch.equal(after.mask_logits, before.mask_logits)  # only the ranking changes


def test_a_checkpoint_keeps_the_prompt_head(tmp_path):
    model = with_prompt_iou_head(tiny_model())
    with torch.no_grad():
        model.sam_mask_decoder.prompt_iou_prediction_head.layers[-1].bias.add_(0.3)
    save_checkpoint(model, tmp_path / "m.pt")
    loaded = load_checkpoint(tmp_path / "m.pt").eval()
    assert loaded.cfg.decoder.prompt_iou_head
    assert torch.equal(decode_two_rows(loaded).iou_scores, decode_two_rows(model).iou_scores)


def test_the_training_cli_adds_the_head_and_trains_it_alone(tmp_path):
    start = tiny_model()
    save_checkpoint(start, tmp_path / "start.pt")
    code = training_cli(["train", "--from", str(tmp_path / "start.pt"), "--out", str(tmp_path / "run"), "--steps", "2",
                         "--image-steps", "2", "--frames", "2", "--frame-sides", "128", "--prompt-iou-head",
                         "--train-only", PROMPT_HEAD.rstrip(".")])
    assert code == 0
    trained = load_checkpoint(tmp_path / "run" / "checkpoint.pt").state_dict()
    original = start.state_dict()
    changed = {key for key in trained if key not in original or not torch.equal(trained[key], original[key])}
    assert changed and all(key.startswith(PROMPT_HEAD) for key in changed)
    for key in (k for k in original if k.startswith(TRACKING_HEAD)):  # it started as this head's copy
        assert trained[PROMPT_HEAD + key[len(TRACKING_HEAD):]].shape == original[key].shape
