"""Command line for training, fine-tuning and evaluation:

    python -m napari_sam2.training train --out runs/micro --steps 3000
    python -m napari_sam2.training finetune --checkpoint model.pt --images img.tif --labels lab.tif --out runs/ft
    python -m napari_sam2.training evaluate --checkpoint runs/micro/checkpoint.pt --sequences 20
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace

import torch

from ..engine.postprocess import add_cleanup_flag
from ..model import OFFICIAL_CONFIGS, SAM2Model, load_checkpoint, micro_config, with_prompt_iou_head


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    return args.run(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m napari_sam2.training")
    sub = parser.add_subparsers(required=True)
    train = sub.add_parser("train", help="train a model from scratch on simulated time-lapses")
    train.add_argument("--config", default=None,
                       help=f"napari_sam2_micro (default) or one of {sorted(OFFICIAL_CONFIGS)}; not with --from")
    train.add_argument("--from", dest="start_from", default=None,
                       help="start from this checkpoint's weights (a further training stage) instead of from scratch")
    _common_training(train)
    train.add_argument("--prompt-iou-head", action="store_true",
                       help="give the model (from --from, or a new one) a second IoU head that ranks the masks of clicks, "
                            "boxes and mask prompts, starting as a copy of its IoU head; the first then ranks only masks "
                            "decoded from memory (train it alone with --train-only sam_mask_decoder.prompt_iou_prediction_head)")
    train.add_argument("--division-probability", type=float, default=None,
                       help="chance that a cell starts dividing, per cell per frame (simulator default: 0.01)")
    train.add_argument("--cluster-fraction", type=float, default=None,
                       help="fraction of cells placed touching another one (simulator default: 0.35)")
    train.add_argument("--warmup-frames", type=int, default=0,
                       help="frames simulated before each sequence starts (cells then divide within short sequences)")
    train.add_argument("--max-frame-step", type=int, default=1,
                       help="keep every s-th simulated frame, s drawn from 1..N per sequence (faster motion and growth)")
    train.add_argument("--frame-sides", type=_whole_numbers, default=None,
                       help="comma-separated frame sides to draw heights and widths from (default 128,160,192,224,256); "
                            "larger frames show smaller cells to the model; repeat a side to draw it more often")
    train.add_argument("--realistic", action="store_true",
                       help="simulate what real images show: nucleoli, speckles, varied brightness, halos, uneven "
                            "background, empty slices at z-stack ends (napari_sam2.simulation.realistic_config)")
    train.add_argument("--realistic-fraction", type=float, default=0.0,
                       help="fraction of sequences simulated as with --realistic, the others with the default "
                            "simulator (a fine-tune that learns real-looking images without forgetting the rest); "
                            "not with --realistic, which makes them all realistic")
    train.add_argument("--augment", action="store_true", help="random gamma, blur and noise per training sequence")
    train.add_argument("--zstack-fraction", type=float, default=0.0,
                       help="fraction of sequences that run through a simulated z-stack past the nuclei's ends "
                            "(teaches 'no object' where a nucleus is absent)")
    train.set_defaults(run=_train)
    tune = sub.add_parser("finetune", help="fine-tune a checkpoint on an image stack and its label stack")
    tune.add_argument("--checkpoint", required=True)
    tune.add_argument("--images", required=True, help="TIFF or Zarr (T, H, W[, C])")
    tune.add_argument("--labels", required=True, help="TIFF or Zarr (T, H, W) label stack")
    _common_training(tune)
    tune.set_defaults(run=_finetune, lr=1e-4)
    evaluate = sub.add_parser("evaluate", help="J&F on held-out simulated time-lapses")
    evaluate.add_argument("--checkpoint", default=None, help="default: the embedded model")
    evaluate.add_argument("--sequences", type=int, default=20)
    evaluate.add_argument("--frames", type=int, default=32)
    evaluate.add_argument("--threads", type=int, default=2)
    evaluate.add_argument("--height", type=int, default=128,
                          help="frame height, px (larger frames: smaller cells at the model's input)")
    evaluate.add_argument("--width", type=int, default=128, help="frame width, px")
    evaluate.add_argument("--cells", type=_whole_numbers, default=(5, 9), help="LO,HI cells in the first frame (default 5,9)")
    _separate_memories_flag(evaluate, "tracking")
    add_cleanup_flag(evaluate)
    evaluate.set_defaults(run=_evaluate)
    return parser


def _common_training(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="folder for checkpoint.pt; a run found there is resumed")
    p.add_argument("--steps", type=int, default=3000, help="all steps, image pre-training included")
    p.add_argument("--image-steps", type=int, default=0, help="first steps on single frames (image pre-training)")
    p.add_argument("--video-every", type=int, default=0, help="during image pre-training, every N-th step is a video")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-objects", type=int, default=3)
    p.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest for the micro model)")
    p.add_argument("--focal-weight", type=float, default=20.0, help="paper: 20")
    p.add_argument("--focal-gamma", type=float, default=2.0, help="paper: 2; 0 makes it a cross-entropy")
    p.add_argument("--focal-alpha", type=float, default=0.25, help="paper: 0.25; negative: no class weighting")
    p.add_argument("--dice-weight", type=float, default=1.0, help="paper: 1")
    p.add_argument("--embedding-scale-weight", type=float, default=0.0,
                   help="weight of a loss holding the image embedding's RMS near 1 (not in the paper; used from scratch)")
    p.add_argument("--frames", type=int, default=8, help="frames per training sequence (paper: 8)")
    p.add_argument("--freeze", default="",
                   help="comma-separated parameter-name prefixes to keep fixed, e.g. image_encoder,sam_mask_decoder")
    p.add_argument("--train-only", default="",
                   help="comma-separated parameter-name prefixes: only these learn, e.g. "
                        "sam_mask_decoder.iou_prediction_head (how the model ranks its masks)")
    p.add_argument("--corrections", type=int, default=7, help="corrective clicks per corrected frame (paper: 7)")
    p.add_argument("--weight-decay", type=float, default=0.1, help="AdamW decay of weight matrices")
    _separate_memories_flag(p, "training")
    p.add_argument("--until", type=int, default=None, help="stop at this step (the schedule still runs to --steps)")


def _separate_memories_flag(p: argparse.ArgumentParser, during: str) -> None:
    """--separate-memories / --no-separate-memories, with the default of RecipeConfig (the tracker's)."""
    from .recipe import RecipeConfig

    p.add_argument("--separate-memories", action=argparse.BooleanOptionalAction, default=RecipeConfig().separate_memories,
                   help=f"during {during}, a tracked frame's memory holds only the pixels each object wins (default, as the "
                        "tracker and the napari plugin run; not in the paper); --no-separate-memories: each object "
                        "remembers its whole mask, as the reference does")


def _train_config(args):
    from .loop import TrainConfig
    from .losses import LossWeights
    from .recipe import RecipeConfig

    weights = LossWeights(focal=args.focal_weight, dice=args.dice_weight, focal_alpha=args.focal_alpha,
                          focal_gamma=args.focal_gamma, embedding_scale=args.embedding_scale_weight)
    recipe = RecipeConfig(num_frames=args.frames, corrections_per_frame=args.corrections,
                          separate_memories=args.separate_memories)
    return TrainConfig(steps=args.steps, image_steps=args.image_steps, video_every=args.video_every, lr=args.lr, seed=args.seed,
                       max_objects=args.max_objects, weights=weights, recipe=recipe, weight_decay=args.weight_decay,
                       frozen=_prefixes(args.freeze), trained_only=_prefixes(args.train_only))


def _prefixes(text: str) -> tuple[str, ...]:
    """Comma-separated parameter-name prefixes as a tuple (empty for an empty text)."""
    return tuple(p for p in text.split(",") if p)


def _train(args) -> int:
    from .initialization import match_frame_and_memory_positions, match_prompt_and_image_positions
    from .loop import PrefixError, train

    if args.start_from and args.config:
        print(f"error: --from {args.start_from} trains the configuration stored in that checkpoint, so --config "
              f"{args.config} cannot apply: leave out --config (or --from, to train {args.config} from scratch)",
              file=sys.stderr)
        return 2
    try:  # settings first: a bad one is reported before a model is built or loaded
        data = _simulated_data(args)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.start_from:  # a further stage: its weights, a fresh optimizer and schedule
        model = load_checkpoint(args.start_from).train()
    else:
        cfg = _config_named(args.config or "napari_sam2_micro")
        if cfg is None:
            print(f"error: unknown --config {args.config!r}: use napari_sam2_micro or one of "
                  f"{', '.join(sorted(OFFICIAL_CONFIGS))}", file=sys.stderr)
            return 2
        torch.manual_seed(args.seed)
        model = SAM2Model(cfg)
        match_prompt_and_image_positions(model, torch.Generator().manual_seed(args.seed))
        match_frame_and_memory_positions(model, torch.Generator().manual_seed(args.seed))
    if args.prompt_iou_head:
        model = with_prompt_iou_head(model)
    start = time.time()
    try:
        path = train(model, data, _train_config(args), args.out, until=args.until)
    except PrefixError as error:  # checked before any step: nothing was trained or written
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"\ncheckpoint: {path} ({(time.time() - start) / 60:.1f} min)")
    return 0


def _simulated_data(args):
    from ..simulation import SimulationConfig, realistic_config
    from .data import FRAME_SIDES, SimulatedSequences

    if args.realistic and args.realistic_fraction:
        raise ValueError(f"--realistic makes every sequence realistic, so --realistic-fraction {args.realistic_fraction} "
                         "cannot apply: give one of them")

    def with_overrides(config):
        if args.division_probability is not None:
            config = replace(config, division_probability=args.division_probability)
        if args.cluster_fraction is not None:
            config = replace(config, cluster_fraction=args.cluster_fraction)
        return config

    config = with_overrides(realistic_config() if args.realistic else SimulationConfig())
    return SimulatedSequences(config, warmup_frames=args.warmup_frames, max_frame_step=args.max_frame_step,
                              frame_sides=args.frame_sides or FRAME_SIDES, augment=args.augment,
                              zstack_fraction=args.zstack_fraction, mixed_config=with_overrides(realistic_config()),
                              mixed_fraction=args.realistic_fraction)


def _whole_numbers(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(side) for side in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole numbers separated by commas, like 192,224,256; got {text!r}")


def _config_named(name: str):
    return micro_config() if name == "napari_sam2_micro" else OFFICIAL_CONFIGS.get(name)


def _finetune(args) -> int:
    from .data import LabelledStack
    from .loop import model_for_finetuning, train

    model = model_for_finetuning(args.checkpoint)
    data = LabelledStack(_open_stack(args.images), _open_stack(args.labels))
    path = train(model, data, replace(_train_config(args), warmup_steps=min(50, args.steps // 10)), args.out, until=args.until)
    print(f"\ncheckpoint: {path}")
    return 0


def _open_stack(path: str):
    import tifffile
    import zarr

    if path.endswith((".tif", ".tiff")):
        return zarr.open(tifffile.imread(path, aszarr=True), mode="r")
    return zarr.open(path, mode="r")


def _evaluate(args) -> int:
    from ..engine.loading import load_model
    from ..evaluation import format_table, simulated_benchmark
    from ..simulation import SimulationConfig

    if len(args.cells) != 2:
        print(f"error: --cells takes LO,HI (two numbers), got {','.join(map(str, args.cells))}", file=sys.stderr)
        return 2
    try:
        config = SimulationConfig(height=args.height, width=args.width, num_cells=args.cells)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    model = load_model(args.checkpoint, device="cpu") if args.checkpoint else load_model(device="cpu")
    start = time.time()
    scores = simulated_benchmark(model, args.sequences, args.frames, config=config,
                                 separate_memories=args.separate_memories, cleanup=args.cleanup,
                                 progress=lambda i, n: print(f"sequence {i}/{n}", file=sys.stderr))
    print(format_table(scores))
    print(f"({args.sequences} held-out simulated time-lapses of {args.frames} frames, {args.height} x {args.width}; "
          f"{time.time() - start:.0f} s)")
    return 0
