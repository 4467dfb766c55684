"""The training recipe end to end on a tiny configuration (fast enough for CI)."""
from __future__ import annotations

import dataclasses
import inspect

import numpy as np
import pytest
import tifffile
import torch

from napari_sam2.engine import VideoTracker
from napari_sam2.model import CheckpointError, SAM2Model, load_checkpoint, save_checkpoint
from napari_sam2.simulation import SimulationConfig, ground_truth_masks, simulate_timelapse
from napari_sam2.training.cli import _parser as training_parser
from napari_sam2.training.cli import _train_config as train_config_of
from napari_sam2.training.cli import main as training_cli
from napari_sam2.training.data import LabelledStack, SimulatedSequences
from napari_sam2.training.loop import CHECKPOINT_NAME, TrainConfig, model_for_finetuning, train
from napari_sam2.training.losses import embedding_scale_loss
from napari_sam2.training.recipe import RecipeConfig, draw_plan
from napari_sam2.training.sequence_forward import sequence_loss
from tiny_config import MICRO_TEST_CONFIG

SMALL_SIM = SimulationConfig(height=96, width=96, num_cells=(3, 4))
QUICK = TrainConfig(steps=4, image_steps=1, warmup_steps=2, checkpoint_every=2, max_objects=2, recipe=RecipeConfig(num_frames=4))


def fresh_model(seed: int = 0) -> SAM2Model:
    torch.manual_seed(seed)
    return SAM2Model(MICRO_TEST_CONFIG)


def held_out_loss(model: SAM2Model) -> float:
    """Loss on fixed held-out sequences with a fixed plan (clicks) and no dropout noise."""
    data = SimulatedSequences(SMALL_SIM, seed_offset=2**30)
    total = 0.0
    model.eval()
    with torch.no_grad():
        for i in range(3):
            sample = data.sample(4, 2, model.cfg.image_size, np.random.default_rng(100 + i))
            plan = dataclasses.replace(draw_plan(RecipeConfig(num_frames=4, prob_mask_prompt=0.0), 4,
                                                 torch.Generator().manual_seed(i)))
            loss, _ = sequence_loss(model, sample.frames, sample.masks, plan, RecipeConfig(), QUICK.weights,
                                    torch.Generator().manual_seed(i))
            total += float(loss)
    return total / 3


@pytest.mark.slow
def test_a_short_run_from_scratch_lowers_the_held_out_loss(tmp_path):
    model = fresh_model()
    before = held_out_loss(model)
    cfg = dataclasses.replace(QUICK, steps=40, warmup_steps=5, checkpoint_every=40, lr=2e-3)
    train(model, SimulatedSequences(SMALL_SIM), cfg, tmp_path, progress=_Quiet())
    after = held_out_loss(model)
    assert after < 0.8 * before, (before, after)


class _Quiet:
    def __init__(self):
        self.losses = []

    def update(self, step, parts):
        self.losses.append(parts["loss"])


def test_an_interrupted_run_resumes_without_losing_steps(tmp_path):
    straight = fresh_model()
    train(straight, SimulatedSequences(SMALL_SIM), QUICK, tmp_path / "straight", progress=_Quiet())
    interrupted = fresh_model()
    train(interrupted, SimulatedSequences(SMALL_SIM), QUICK, tmp_path / "cut", progress=_Quiet(), stop_after=2)
    assert torch.load(tmp_path / "cut" / CHECKPOINT_NAME, weights_only=True)["step"] == 2
    resumed = fresh_model(seed=123)  # a new process: different initial weights, overwritten by the checkpoint
    train(resumed, SimulatedSequences(SMALL_SIM), QUICK, tmp_path / "cut", progress=_Quiet())
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name
    checkpoint = load_checkpoint(tmp_path / "cut" / CHECKPOINT_NAME)  # self-describing
    assert checkpoint.cfg == MICRO_TEST_CONFIG


def write_labelled_stack(tmp_path, seed=3):
    sim = simulate_timelapse(dataclasses.replace(SMALL_SIM, num_frames=6), seed)
    tifffile.imwrite(tmp_path / "images.tif", sim.frames)
    tifffile.imwrite(tmp_path / "labels.tif", sim.labels)
    return sim


def test_finetuning_from_a_checkpoint_on_a_labelled_tiff_stack(tmp_path):
    write_labelled_stack(tmp_path)
    save_checkpoint(fresh_model(), tmp_path / "start.pt")
    code = training_cli([
        "finetune", "--checkpoint", str(tmp_path / "start.pt"), "--images", str(tmp_path / "images.tif"),
        "--labels", str(tmp_path / "labels.tif"), "--out", str(tmp_path / "ft"), "--steps", "2",
    ])
    assert code == 0
    content = torch.load(tmp_path / "ft" / CHECKPOINT_NAME, weights_only=True)
    assert content["step"] == 2
    tuned = load_checkpoint(tmp_path / "ft" / CHECKPOINT_NAME)
    assert not all(torch.equal(a, b) for a, b in zip(tuned.state_dict().values(), fresh_model().state_dict().values()))


def test_bad_training_input(tmp_path):
    sim = write_labelled_stack(tmp_path)
    with pytest.raises(ValueError, match="same \\(T, H, W\\)"):
        LabelledStack(sim.frames, sim.labels[:, :50])
    with pytest.raises(ValueError, match="no objects"):
        LabelledStack(sim.frames, np.zeros_like(sim.labels))
    save_checkpoint(fresh_model(), tmp_path / "micro.pt")
    other = dataclasses.replace(MICRO_TEST_CONFIG, name="other", d_model=48)
    with pytest.raises(CheckpointError, match="not the requested 'other'"):
        model_for_finetuning(tmp_path / "micro.pt", expected=other)
    train(fresh_model(), SimulatedSequences(SMALL_SIM), dataclasses.replace(QUICK, steps=1), tmp_path / "run", progress=_Quiet())
    with pytest.raises(CheckpointError, match="holds a run of configuration"):
        train(SAM2Model(other), SimulatedSequences(SMALL_SIM), QUICK, tmp_path / "run", progress=_Quiet())


def test_recipe_plans_follow_the_paper():
    generator = torch.Generator().manual_seed(0)
    plans = [draw_plan(RecipeConfig(), 8, generator) for _ in range(400)]
    kinds = [p.prompt_kind for p in plans]
    assert abs(kinds.count("mask") / 400 - 0.5) < 0.08
    assert abs(kinds.count("box") / 400 - 0.25) < 0.07
    assert all(p.prompted[0] == 0 and 1 <= len(p.prompted) <= 2 for p in plans)
    assert all(p.corrected == [] for p in plans if p.prompt_kind == "mask")
    assert all(p.corrected[: len(p.prompted)] == p.prompted and len(p.corrected) <= 2 for p in plans if p.prompt_kind != "mask")
    assert sorted(plans[0].order) == list(range(8))
    single = [draw_plan(RecipeConfig(), 1, generator) for _ in range(50)]  # image pre-training
    assert all(p.prompt_kind != "mask" and p.corrected == [0] for p in single)


def test_ground_truth_after_division_is_the_union_of_descendants():
    config = dataclasses.replace(SMALL_SIM, num_frames=20, division_probability=0.3, division_min_age=2)
    sim = simulate_timelapse(config, 1)
    parent, = [p for p in set(sim.lineage.values()) if p in np.unique(sim.labels[0])][:1]
    truth = ground_truth_masks(sim, [parent])[parent]
    children = [c for c, p in sim.lineage.items() if p == parent]
    last = sim.labels[-1]
    assert np.array_equal(truth[-1], np.isin(last, [parent, *children, *[c for c, p in sim.lineage.items() if p in children]]))


def test_embedding_scale_loss_is_zero_at_unit_rms_and_grows_either_way():
    unit = torch.randn(2, 8, 16, 16)
    unit = unit / unit.pow(2).flatten(1).mean(-1).sqrt()[:, None, None, None]
    assert float(embedding_scale_loss(unit)) < 1e-10
    assert float(embedding_scale_loss(unit * 100)) == pytest.approx(np.log(100) ** 2, rel=1e-5)
    assert float(embedding_scale_loss(unit / 100)) == pytest.approx(np.log(100) ** 2, rel=1e-5)


@pytest.mark.slow
def test_training_with_the_scale_loss_pulls_a_grown_embedding_back(tmp_path):
    def coarse_rms(model):
        frames = SimulatedSequences(SMALL_SIM).sample(2, 2, model.cfg.image_size, np.random.default_rng(5)).frames
        with torch.no_grad():
            return float(model.encode_image_raw(frames).embedding.pow(2).mean().sqrt())

    runs = {}
    for weight in (0.0, 10.0):
        model = fresh_model()
        with torch.no_grad():  # the state image-only training reaches: a coarse embedding of RMS in the tens
            for coarse in model.image_encoder.neck.convs[:2]:  # stride 32 (summed top-down) and 16
                coarse.conv.weight.mul_(30)
                coarse.conv.bias.mul_(30)
        grown = coarse_rms(model)
        cfg = dataclasses.replace(QUICK, steps=12, image_steps=12, warmup_steps=1, checkpoint_every=12, lr=5e-3,
                                  weights=dataclasses.replace(QUICK.weights, embedding_scale=weight))
        train(model, SimulatedSequences(SMALL_SIM), cfg, tmp_path / str(weight), progress=_Quiet())
        runs[weight] = coarse_rms(model)
    assert grown > 10
    assert runs[10.0] < 0.5 * runs[0.0], (grown, runs)


def test_video_every_mixes_videos_into_image_pretraining(tmp_path, monkeypatch):
    import napari_sam2.training.loop as loop

    frames_seen = []
    original = loop.sequence_loss
    monkeypatch.setattr(loop, "sequence_loss",
                        lambda model, frames, *a: frames_seen.append(frames.shape[0]) or original(model, frames, *a))
    cfg = dataclasses.replace(QUICK, steps=6, image_steps=6, video_every=3, checkpoint_every=6)
    train(fresh_model(), SimulatedSequences(SMALL_SIM), cfg, tmp_path, progress=_Quiet())
    assert frames_seen == [1, 1, 4, 1, 1, 4]


def test_frozen_modules_keep_their_weights(tmp_path):
    model = fresh_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = dataclasses.replace(QUICK, steps=3, image_steps=1, frozen=("image_encoder", "sam_mask_decoder"))
    train(model, SimulatedSequences(SMALL_SIM), cfg, tmp_path, progress=_Quiet())
    after = model.state_dict()
    frozen = [k for k in after if k.startswith(("image_encoder", "sam_mask_decoder"))]
    assert frozen and all(torch.equal(before[k], after[k]) for k in frozen)
    assert not all(torch.equal(before[k], after[k]) for k in after if k.startswith("memory_attention"))


def test_a_further_stage_starts_from_a_checkpoint_with_its_own_schedule(tmp_path):
    save_checkpoint(fresh_model(), tmp_path / "stage1.pt")
    code = training_cli(["train", "--from", str(tmp_path / "stage1.pt"), "--out", str(tmp_path / "stage2"),
                         "--steps", "2", "--frames", "2", "--max-objects", "2"])
    assert code == 0
    content = torch.load(tmp_path / "stage2" / CHECKPOINT_NAME, weights_only=True)
    assert content["step"] == 2 and content["train_config"]["recipe"]["num_frames"] == 2
    stage2 = load_checkpoint(tmp_path / "stage2" / CHECKPOINT_NAME)
    assert stage2.cfg == MICRO_TEST_CONFIG  # the configuration comes from the checkpoint
    assert not all(torch.equal(a, b) for a, b in zip(stage2.state_dict().values(), fresh_model().state_dict().values()))


def test_a_further_stage_refuses_a_configuration_it_cannot_apply(tmp_path, capsys):
    save_checkpoint(fresh_model(), tmp_path / "stage1.pt")
    code = training_cli(["train", "--from", str(tmp_path / "stage1.pt"), "--config", "sam2.1_hiera_tiny",
                         "--out", str(tmp_path / "stage2"), "--steps", "2"])
    assert code == 2 and "leave out --config" in capsys.readouterr().err
    assert not (tmp_path / "stage2").exists()  # nothing trained, nothing written
    assert training_cli(["train", "--config", "sam2_hiera_huge", "--out", str(tmp_path / "x")]) == 2
    assert "unknown --config 'sam2_hiera_huge'" in capsys.readouterr().err


def _objects_in_two_pieces(data: SimulatedSequences, samples: int) -> int:
    """How many sampled objects end their 4-frame sequence as two pieces (divided)."""
    from scipy import ndimage

    rng = np.random.default_rng(3)
    pieces = 0
    for _ in range(samples):
        masks = data.sample(4, 3, 64, rng).masks.numpy()  # (K, T, S, S)
        assert masks[:, 0].reshape(len(masks), -1).any(axis=1).all()  # every object is in frame 0
        pieces += sum(ndimage.label(m[-1])[1] >= 2 for m in masks)
    return pieces


def test_a_warm_up_lets_short_training_sequences_show_divisions():
    dividing = dataclasses.replace(SMALL_SIM, division_probability=0.5, division_min_age=0)
    # a division takes 4 frames from its start to the split: never inside 4 frames from a cold start
    assert _objects_in_two_pieces(SimulatedSequences(dividing), 6) == 0
    assert _objects_in_two_pieces(SimulatedSequences(dividing, warmup_frames=6), 6) >= 2
    with pytest.raises(ValueError, match="warmup_frames must be 0 or more"):
        SimulatedSequences(dividing, warmup_frames=-1)


def test_training_takes_the_division_options_from_the_command_line(tmp_path):
    code = training_cli(["train", "--out", str(tmp_path / "run"), "--steps", "1", "--frames", "2", "--max-objects", "1",
                         "--warmup-frames", "3", "--division-probability", "0.2", "--max-frame-step", "3"])
    assert code == 0 and (tmp_path / "run" / CHECKPOINT_NAME).exists()


def test_a_frame_step_makes_cells_move_further_between_training_frames():
    def mean_shift(data: SimulatedSequences) -> float:
        """Mean distance, in pixels, that an object's centre moves from one frame to the next."""
        rng = np.random.default_rng(5)
        shifts = []
        for _ in range(8):
            masks = data.sample(3, 3, 64, rng).masks.numpy()
            for m in masks:
                if m.any(axis=(1, 2)).all():
                    centres = np.array([np.argwhere(frame).mean(axis=0) for frame in m])
                    shifts += list(np.linalg.norm(np.diff(centres, axis=0), axis=1))
        return float(np.mean(shifts))

    fast = dataclasses.replace(SMALL_SIM, speed_range=(1.0, 1.0), jitter_sigma=0.0)
    one_step, up_to_four = mean_shift(SimulatedSequences(fast)), mean_shift(SimulatedSequences(fast, max_frame_step=4))
    assert up_to_four > 1.8 * one_step  # steps 1..4 average 2.5 frames
    with pytest.raises(ValueError, match="max_frame_step must be 1 or more"):
        SimulatedSequences(fast, max_frame_step=0)


def test_larger_training_frames_show_smaller_cells_to_the_model():
    def mean_area(data: SimulatedSequences) -> float:
        """Mean first-frame object area at the model's input (64 x 64 here)."""
        rng = np.random.default_rng(9)
        return float(np.mean([m[0].sum() for _ in range(6) for m in data.sample(1, 3, 64, rng).masks.numpy()]))

    small_frames = mean_area(SimulatedSequences(SMALL_SIM, frame_sides=(96,)))
    large_frames = mean_area(SimulatedSequences(SMALL_SIM, frame_sides=(192,)))
    assert large_frames < 0.4 * small_frames  # twice the side: a quarter of the area, give or take the draw
    with pytest.raises(ValueError, match="frame_sides must be"):
        SimulatedSequences(SMALL_SIM, frame_sides=(16, 128))


def test_training_takes_frame_sides_from_the_command_line(tmp_path, capsys):
    code = training_cli(["train", "--out", str(tmp_path / "run"), "--steps", "1", "--frames", "2", "--max-objects", "1",
                         "--frame-sides", "160,192", "--cluster-fraction", "0.8", "--separate-memories"])
    assert code == 0 and (tmp_path / "run" / CHECKPOINT_NAME).exists()
    assert training_cli(["train", "--out", str(tmp_path / "bad"), "--cluster-fraction", "1.5"]) == 2
    assert "cluster_fraction is a fraction from 0 to 1, got 1.5" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        training_cli(["train", "--out", str(tmp_path / "bad"), "--frame-sides", "160,big"])
    assert "expected whole numbers separated by commas" in capsys.readouterr().err


def test_evaluation_at_another_frame_size_from_the_command_line(capsys):
    code = training_cli(["evaluate", "--sequences", "1", "--frames", "3", "--height", "160", "--width", "96",
                         "--cells", "2,3", "--threads", "1"])
    out = capsys.readouterr().out
    assert code == 0 and "| 1 click |" in out and "| mask |" in out and "160 x 96" in out
    assert training_cli(["evaluate", "--sequences", "1", "--frames", "2", "--cells", "2,3", "--threads", "1",
                         "--no-separate-memories"]) == 0
    assert "| 1 click |" in capsys.readouterr().out
    assert training_cli(["evaluate", "--cells", "4"]) == 2
    assert "--cells takes LO,HI" in capsys.readouterr().err
    assert training_cli(["evaluate", "--height", "4"]) == 2
    assert "height and width must be >= 8" in capsys.readouterr().err


def test_separate_memories_in_training_change_the_loss_only_where_objects_compete():
    """With two objects in a sequence their tracked frames' memories differ when separated;
    with one object there is nothing to separate and the loss is the same."""
    model = fresh_model().eval()
    data = SimulatedSequences(SMALL_SIM, seed_offset=2**30)
    plan = draw_plan(RecipeConfig(num_frames=4, prob_mask_prompt=0.0), 4, torch.Generator().manual_seed(0))

    def loss(sample, separate: bool) -> float:
        recipe = RecipeConfig(separate_memories=separate)
        with torch.no_grad():
            value, _ = sequence_loss(model, sample.frames, sample.masks, plan, recipe, QUICK.weights,
                                     torch.Generator().manual_seed(0))
        return float(value)

    pair = data.sample(4, 2, model.cfg.image_size, np.random.default_rng(7))
    assert pair.masks.shape[0] == 2
    assert loss(pair, True) != pytest.approx(loss(pair, False), rel=1e-6)
    alone = data.sample(4, 1, model.cfg.image_size, np.random.default_rng(7))
    assert loss(alone, True) == pytest.approx(loss(alone, False), rel=1e-6)


def test_training_and_evaluation_separate_memories_by_default_as_the_tracker_does():
    """Issue 14: the default was True in the tracker and False in training, and the flags were
    --separate-memories (train) and --overlapping-memories (evaluate)."""
    tracker_default = inspect.signature(VideoTracker).parameters["separate_memories"].default
    assert RecipeConfig().separate_memories is tracker_default is True
    parser = training_parser()
    for command in (["train", "--out", "x"], ["finetune", "--checkpoint", "c", "--images", "i", "--labels", "l", "--out", "x"],
                    ["evaluate"]):
        assert parser.parse_args(command).separate_memories is True
        assert parser.parse_args(command + ["--separate-memories"]).separate_memories is True
        assert parser.parse_args(command + ["--no-separate-memories"]).separate_memories is False
    recipe = train_config_of(parser.parse_args(["train", "--out", "x", "--no-separate-memories"])).recipe
    assert recipe.separate_memories is False


# ---- issue 19: realistic training data -------------------------------------------------------------

def test_zstack_runs_teach_no_object_where_a_nucleus_ends():
    from napari_sam2.simulation import realistic_config

    data = SimulatedSequences(realistic_config(num_cells=(3, 5)), zstack_fraction=1.0, max_frame_step=2,
                              frame_sides=(96,))
    rng = np.random.default_rng(0)
    present = [data.sample(4, 3, 64, rng).masks.flatten(2).any(-1) for _ in range(8)]  # (K, T) each
    assert all(p[:, 0].all() for p in present)  # every object is there on the first slice ...
    assert sum(int((~p[:, 1:]).any()) for p in present) >= 3  # ... and often gone on later ones
    with pytest.raises(ValueError, match="zstack_fraction"):
        SimulatedSequences(zstack_fraction=1.5)


def test_default_training_data_is_unchanged_by_the_new_options():
    """Neither augmentations nor z-stack runs draw from the random stream when off: earlier runs repeat."""
    plain = SimulatedSequences(SMALL_SIM).sample(2, 2, 64, np.random.default_rng(5))
    off = SimulatedSequences(SMALL_SIM, augment=False, zstack_fraction=0.0).sample(2, 2, 64, np.random.default_rng(5))
    on = SimulatedSequences(SMALL_SIM, augment=True).sample(2, 2, 64, np.random.default_rng(5))
    assert torch.equal(plain.frames, off.frames) and torch.equal(plain.masks, off.masks)
    assert not torch.equal(plain.frames, on.frames)


def test_intensity_augmentation_keeps_the_cells_and_changes_their_look():
    from napari_sam2.training.data import augment_intensities

    sim = simulate_timelapse(dataclasses.replace(SMALL_SIM, num_frames=2), seed=3)
    changed = [augment_intensities(sim.frames, np.random.default_rng(k)) for k in range(4)]
    inside, outside = sim.labels > 0, sim.labels == 0
    for frames in changed:
        assert frames.shape == sim.frames.shape and frames.dtype == np.float32
        assert frames[inside].mean() > frames[outside].mean() + 0.2  # still bright nuclei on a dark background
    assert np.std([f[inside].mean() for f in changed]) > 0.01  # a different gamma, blur and noise each time


def test_training_takes_the_realism_options_from_the_command_line():
    from napari_sam2.training.cli import _simulated_data

    args = training_parser().parse_args(["train", "--out", "x", "--realistic", "--augment", "--zstack-fraction", "0.3"])
    data = _simulated_data(args)
    assert data.augment and data.zstack_fraction == 0.3 and data.config.nucleoli_per_cell[1] > 0
    default = _simulated_data(training_parser().parse_args(["train", "--out", "x"]))
    assert not default.augment and default.zstack_fraction == 0.0 and default.config == SimulationConfig()


def test_a_fraction_of_sequences_comes_from_the_realistic_simulator():
    """--realistic-fraction mixes realistic sequences among default ones (a fine-tune that does not
    forget); --realistic alone draws nothing more, so its earlier runs repeat."""
    from napari_sam2.simulation import realistic_config
    from napari_sam2.training.cli import _simulated_data

    realistic = realistic_config(height=96, width=96, num_cells=(3, 4))
    mixed = SimulatedSequences(SMALL_SIM, mixed_config=realistic, mixed_fraction=0.5)
    rng = np.random.default_rng(0)
    drawn = [mixed._config_drawn(rng) for _ in range(40)]
    assert 10 <= sum(c is realistic for c in drawn) <= 30 and {id(c) for c in drawn} == {id(realistic), id(SMALL_SIM)}
    all_realistic = SimulatedSequences(realistic).sample(2, 2, 64, np.random.default_rng(5))
    only_mixed = SimulatedSequences(SMALL_SIM, mixed_config=realistic, mixed_fraction=1.0)
    all_mixed = only_mixed.sample(2, 2, 64, np.random.default_rng(5))
    assert torch.equal(all_realistic.frames, all_mixed.frames)
    with pytest.raises(ValueError, match="mixed_fraction"):
        SimulatedSequences(SMALL_SIM, mixed_config=realistic, mixed_fraction=-0.1)
    with pytest.raises(ValueError, match="mixed_config"):
        SimulatedSequences(SMALL_SIM, mixed_fraction=0.2)
    args = training_parser().parse_args(["train", "--out", "x", "--realistic-fraction", "0.4", "--cluster-fraction", "0.6"])
    data = _simulated_data(args)
    assert data.mixed_fraction == 0.4 and data.config == SimulationConfig(cluster_fraction=0.6)
    assert data.mixed_config == realistic_config(cluster_fraction=0.6)
    with pytest.raises(ValueError, match="--realistic-fraction"):
        _simulated_data(training_parser().parse_args(["train", "--out", "x", "--realistic", "--realistic-fraction", "0.4"]))


def test_evaluation_cleans_masks_as_the_tracker_does_unless_told_not_to(micro_model, monkeypatch):
    from napari_sam2.engine import MaskCleanup, VideoTracker
    from napari_sam2.evaluation import simulated_benchmark, track_and_score

    assert training_parser().parse_args(["evaluate"]).cleanup == MaskCleanup()
    assert training_parser().parse_args(["evaluate", "--no-cleanup"]).cleanup == MaskCleanup.off()
    plain_boxes = training_parser().parse_args(["evaluate", "--plain-boxes"]).cleanup
    assert not (plain_boxes.box_centre_click or plain_boxes.inside_box) and plain_boxes.keep_one_piece
    used = []

    def recording_tracker(*args, **kwargs):
        tracker = VideoTracker(*args, **kwargs)
        used.append(tracker.cleanup)
        return tracker

    monkeypatch.setattr(track_and_score, "VideoTracker", recording_tracker)
    config = SimulationConfig(height=64, width=64, num_cells=(3, 3))
    for cleanup in (MaskCleanup(), MaskCleanup.off()):
        simulated_benchmark(micro_model, 1, 2, kinds=("1 click",), config=config, cleanup=cleanup)
    assert used == [MaskCleanup(), MaskCleanup.off()]


def test_train_only_changes_just_the_named_parameters(tmp_path):
    model = fresh_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    head = "sam_mask_decoder.iou_prediction_head"
    cfg = dataclasses.replace(QUICK, steps=3, image_steps=3, trained_only=(head,))
    train(model, SimulatedSequences(SMALL_SIM), cfg, tmp_path, progress=_Quiet())
    after = model.state_dict()
    changed = {k for k in after if not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith(head) for k in changed)


def test_train_only_reaches_the_training_config():
    args = training_parser().parse_args(["train", "--out", "x", "--train-only",
                                         "sam_mask_decoder.iou_prediction_head,obj_ptr_proj", "--freeze", "obj_ptr_proj"])
    cfg = train_config_of(args)
    assert cfg.trained_only == ("sam_mask_decoder.iou_prediction_head", "obj_ptr_proj")
    assert cfg.frozen == ("obj_ptr_proj",)


@pytest.mark.parametrize("field", ["trained_only", "frozen"])
def test_a_prefix_naming_no_parameter_is_refused_before_training(tmp_path, field):
    cfg = dataclasses.replace(QUICK, steps=1, image_steps=1, **{field: ("sam_mask_decoder.iou_head",)})
    with pytest.raises(ValueError, match="'sam_mask_decoder.iou_head' names no parameter of the model"):
        train(fresh_model(), SimulatedSequences(SMALL_SIM), cfg, tmp_path, progress=_Quiet())
    assert not (tmp_path / "checkpoint.pt").exists()


def test_the_cli_reports_a_misspelt_prefix_without_a_traceback(tmp_path, capsys):
    code = training_cli(["train", "--out", str(tmp_path / "run"), "--steps", "1", "--frames", "2", "--train-only", "iou_head"])
    assert code == 2
    assert "--train-only 'iou_head' names no parameter of the model" in capsys.readouterr().err
    assert not (tmp_path / "run" / "checkpoint.pt").exists()
