"""The training loop: AdamW with warm-up and cosine decay, gradient clipping, self-describing
checkpoints, resume without losing steps, deterministic from a seed."""
from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..model import CheckpointError, SAM2Config, SAM2Model, load_checkpoint, load_into
from .data import SequenceSource
from .losses import LossWeights
from .recipe import RecipeConfig, draw_plan
from .sequence_forward import sequence_loss

CHECKPOINT_NAME = "checkpoint.pt"


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 3000
    image_steps: int = 0  # first this many steps on single frames (image pre-training), then videos
    video_every: int = 0  # if > 0, every video_every-th step of the image phase is a video (mixed, as in the paper)
    image_max_objects: int = 8
    lr: float = 1e-3
    warmup_steps: int = 100
    final_lr_fraction: float = 0.1
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    max_objects: int = 3
    seed: int = 0
    checkpoint_every: int = 50
    # Parameter-name prefixes kept fixed, e.g. ("image_encoder",) when fine-tuning on little data.
    frozen: tuple[str, ...] = ()
    # If given, only the parameters under these prefixes learn (e.g. ("sam_mask_decoder.iou_prediction_head",)
    # to re-fit how the model ranks its masks, its masks unchanged); `frozen` still applies within them.
    trained_only: tuple[str, ...] = ()
    recipe: RecipeConfig = field(default_factory=RecipeConfig)
    weights: LossWeights = field(default_factory=LossWeights)


def learns(name: str, cfg: TrainConfig) -> bool:
    """Whether the parameter called `name` is trained under cfg's frozen and trained_only prefixes."""
    if cfg.trained_only and not name.startswith(cfg.trained_only):
        return False
    return not (cfg.frozen and name.startswith(cfg.frozen))


class PrefixError(ValueError):
    """A --freeze or --train-only prefix that names no parameter of the model."""


def check_prefixes(names: list[str], cfg: TrainConfig) -> None:
    """Refuses a frozen or trained_only prefix that names no parameter (a misspelt one would train
    everything, or nothing, without a word)."""
    for option, prefixes in (("--freeze", cfg.frozen), ("--train-only", cfg.trained_only)):
        for prefix in prefixes:
            if not any(name.startswith(prefix) for name in names):
                tops = sorted({name.split(".")[0] for name in names})
                raise PrefixError(f"{option} {prefix!r} names no parameter of the model: parameter names begin with "
                                 f"{', '.join(tops)} (e.g. sam_mask_decoder.iou_prediction_head); fix the prefix")


def learning_rate(cfg: TrainConfig, step: int) -> float:
    """Linear warm-up, then cosine decay to final_lr_fraction of lr."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    floor = cfg.final_lr_fraction
    return cfg.lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


def make_optimizer(model: SAM2Model, cfg: TrainConfig) -> torch.optim.AdamW:
    """Weight decay on weight matrices only (not on biases, norms, embeddings, tokens)."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (decay if p.ndim >= 2 and "embed" not in name and "token" not in name else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr)


def train(
    model: SAM2Model,
    data: SequenceSource,
    cfg: TrainConfig,
    out_dir: str | Path,
    progress=None,
    stop_after: int | None = None,
    until: int | None = None,
) -> Path:
    """Train `model` in place; checkpoints go to out_dir/checkpoint.pt and a run found there is
    resumed (same configuration only). `stop_after` ends early after that many steps of this
    call (for tests of interruption); `until` ends at that step of the schedule. Returns the
    checkpoint path."""
    check_prefixes([name for name, _ in model.named_parameters()], cfg)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, p in model.named_parameters():
        p.requires_grad_(learns(name, cfg))
    optimizer = make_optimizer(model, cfg)
    start = resume(model, optimizer, out_dir / CHECKPOINT_NAME)
    progress = progress or ProgressBar(cfg.steps, start)
    model.train()
    end = cfg.steps if stop_after is None else min(cfg.steps, start + stop_after)
    end = end if until is None else min(end, until)
    for step in range(start, end):
        parts = train_step(model, optimizer, data, cfg, step)
        progress.update(step + 1, parts)
        if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == end:
            save_training_checkpoint(model, optimizer, step + 1, cfg, out_dir / CHECKPOINT_NAME)
    model.eval()
    return out_dir / CHECKPOINT_NAME


def train_step(model: SAM2Model, optimizer, data: SequenceSource, cfg: TrainConfig, step: int) -> dict[str, float]:
    """One sequence. Everything random derives from (seed, step): a resumed run repeats exactly."""
    torch.manual_seed(cfg.seed * 1_000_003 + step)
    rng = np.random.default_rng([cfg.seed, step])
    generator = torch.Generator().manual_seed(cfg.seed * 7_919 + step)
    on_images = step < cfg.image_steps and not (cfg.video_every > 0 and step % cfg.video_every == cfg.video_every - 1)
    num_frames = 1 if on_images else cfg.recipe.num_frames
    max_objects = cfg.image_max_objects if on_images else cfg.max_objects
    sample = data.sample(num_frames, max_objects, model.cfg.image_size, rng)
    plan = draw_plan(cfg.recipe, sample.frames.shape[0], generator)
    for group in optimizer.param_groups:
        group["lr"] = learning_rate(cfg, step)
    loss, parts = sequence_loss(model, sample.frames, sample.masks, plan, cfg.recipe, cfg.weights, generator)
    optimizer.zero_grad(set_to_none=True)
    loss = torch.as_tensor(loss)  # a plain 0.0 when every frame was prompted with its mask
    if loss.requires_grad:  # nothing to learn from such a sequence, or with frozen modules
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
    return {"loss": float(loss.detach()), **parts}


def save_training_checkpoint(model: SAM2Model, optimizer, step: int, cfg: TrainConfig, path: Path) -> None:
    """Atomic: written next to the target, then renamed, so a crash never leaves half a file."""
    tmp = path.with_suffix(".tmp")
    torch.save(
        {"model": model.state_dict(), "config": model.cfg.to_dict(), "optimizer": optimizer.state_dict(),
         "step": step, "train_config": asdict(cfg)},
        tmp,
    )
    os.replace(tmp, path)


def resume(model: SAM2Model, optimizer, path: Path) -> int:
    """Load a run's checkpoint into model and optimizer; returns the step to continue from."""
    if not path.is_file():
        return 0
    content = torch.load(path, map_location="cpu", weights_only=True)
    stored = SAM2Config.from_dict(content["config"])
    if stored != model.cfg:
        raise CheckpointError(
            f"{path} holds a run of configuration {stored.name!r}, not {model.cfg.name!r}; "
            "choose another output folder, or continue that run with its own configuration"
        )
    load_into(model, content["model"])
    optimizer.load_state_dict(content["optimizer"])
    return int(content["step"])


def model_for_finetuning(checkpoint: str | Path, expected: SAM2Config | None = None) -> SAM2Model:
    """A model to fine-tune, loaded from a checkpoint; refuses one of another configuration."""
    model = load_checkpoint(checkpoint)
    if expected is not None and model.cfg != expected:
        raise CheckpointError(
            f"{checkpoint} is a {model.cfg.name!r} model, not the requested {expected.name!r}; fine-tune "
            "from a checkpoint of the configuration you want, or leave the configuration unset"
        )
    return model.train()


class ProgressBar:
    """A one-line progress bar with the loss, rate and time left (plain lines when not a TTY)."""

    def __init__(self, total: int, start: int = 0, stream=sys.stderr, every: int = 10):
        self.total, self.start, self.stream, self.every = total, start, stream, every
        self.t0 = time.time()
        self.smoothed: float | None = None

    def update(self, step: int, parts: dict[str, float]) -> None:
        loss = parts["loss"]
        self.smoothed = loss if self.smoothed is None else 0.95 * self.smoothed + 0.05 * loss
        done = step - self.start
        rate = (time.time() - self.t0) / max(done, 1)
        left = rate * (self.total - step)
        filled = int(30 * step / self.total)
        line = (f"step {step}/{self.total} [{'#' * filled}{'.' * (30 - filled)}] loss {self.smoothed:.3f} "
                f"(focal {parts['focal']:.3f} dice {parts['dice']:.3f} iou {parts['iou']:.3f} "
                f"presence {parts['presence']:.3f} emb rms {parts.get('embedding_rms', float('nan')):.2f}) "
                f"{rate:.2f} s/step, {left / 60:.0f} min left")
        if self.stream.isatty():
            self.stream.write("\r" + line)
        elif step % self.every == 0 or step == self.total:
            self.stream.write(line + "\n")
        self.stream.flush()
