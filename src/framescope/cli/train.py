"""``framescope train``: SFT and GRPO recipes from YAML (:mod:`framescope.train`)."""

from __future__ import annotations

import argparse
import time

from framescope.cli.infer import quiet_transformers


def cmd_train(args: argparse.Namespace) -> int:
    import os

    from framescope.errors import ConfigError
    from framescope.train.config import load_config

    config = args.config
    if config is None:
        if args.resume is None:
            raise ConfigError(
                "--config PATH is required (or --resume DIR: its config.yaml is used)"
            )
        from framescope.train.checkpoint import find_checkpoint

        config = find_checkpoint(args.resume) / "config.yaml"
    cfg = load_config(config, args.set or [])
    quiet_transformers()
    if args.trainer == "sft":
        from framescope.train.sft import train_sft as train
    else:
        from framescope.train.grpo.trainer import train_grpo as train
    t0 = time.perf_counter()
    result = train(cfg, resume=args.resume, stop_after=args.stop_after, overwrite=args.overwrite)
    if os.environ.get("RANK", "0") == "0":
        shown = {k: round(v, 4) for k, v in result.last.items() if "loss" in k or k == "reward"}
        done = f"steps {result.start + 1}-{result.end}" if result.start else f"{result.end} steps"
        more = (
            f" (stopped; {result.steps - result.end} left: --resume {result.output_dir})"
            if result.end < result.steps
            else ""
        )
        print(
            f"{cfg.recipe}: {done} of {result.steps} in {time.perf_counter() - t0:.1f} s{more}, "
            f"last {shown}"
        )
        print(f"metrics: {result.output_dir / 'metrics.jsonl'}")
        if result.checkpoint is not None:
            print(f"checkpoint: {result.checkpoint}")
    return 0


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def add(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "train",
        parents=[common],
        help="train: sft (DynFrame cold start, VideoMind roles) or grpo (SD-GRPO) from a recipe",
        description="Train from a YAML recipe in configs/ (one process, or several under "
        "torchrun / accelerate launch). Checkpoints, metrics.jsonl and the resolved config go to "
        "the recipe's output_dir.",
    )
    p.add_argument(
        "trainer", choices=["sft", "grpo"], help="sft: recipes sft/grounder/verifier/planner"
    )
    p.add_argument("--config", metavar="PATH", help="YAML recipe (configs/*.yaml)")
    p.add_argument(
        "--set",
        action="extend",
        nargs="+",
        metavar="KEY=VALUE",
        help="override config keys, e.g. optim.lr=1e-5 model.path=ckpt/Qwen3-VL-4B",
    )
    p.add_argument(
        "--resume",
        metavar="DIR",
        help="continue from a checkpoint folder, or an output folder's latest checkpoint",
    )
    p.add_argument(
        "--stop-after",
        type=positive,
        metavar="STEP",
        help="save and stop after this step >= 1 (the schedule spans the whole run; --resume "
        "later)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="clear a non-empty output_dir first (a fresh run refuses one: old checkpoints "
        "would mix with the new)",
    )
    p.set_defaults(func=cmd_train)
