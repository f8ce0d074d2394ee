"""Does SFT learn? VideoMind's grounder (LoRA adapter + timestamp head) on the synthetic world.

Trains ``configs/synth_videomind_grounder.yaml`` on one synthetic world and scores moment
retrieval on a held-out world (other seed: other videos, other queries) with framescope's
Charades-STA scorer (R1@0.3/0.5/0.7, R5@…, mIoU), before and after training:

- **untrained**: the model the run starts from (base + fresh adapter, head freshly initialised
  with the run's seed) — what the recipe improves on;
- **trained**: the checkpoint the run wrote, loaded back through the VideoMind loader
  (``load_backend(checkpoint/videomind)``) — adapter and head as inference would use them;
- **prior**: one fixed window per video, the training spans' mean centre and length (as fractions
  of the video) — what a model gets from the span statistics alone, without looking.

The grounder's reply is teacher-forced up to ``<|reg|>`` (the head reads the state that predicts
it), so the scores measure the head on the adapter's states; whether the adapter also *writes*
``<|reg|>`` is reported separately (greedy next token at that position).

    python scripts/show_it_learns.py --out runs/learns            # ~5 CPU minutes (2 cores)
    python scripts/show_it_learns.py --out runs/quick --steps 10 --train-videos 4 --test-videos 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is downloaded

import torch

from framescope.data import read_grounder
from framescope.data.collate import VideoSettings, collate, grounder_example
from framescope.eval.benchmarks.moment_retrieval import load_charades
from framescope.eval.metrics import temporal_iou_area
from framescope.eval.score import score
from framescope.fileio import atomic_write_text, write_json
from framescope.models.hf import load_backend
from framescope.synth import generate_world
from framescope.train import grounder_head
from framescope.train.config import TrainConfig, load_config
from framescope.train.model import role_budget
from framescope.train.runtime import Run, read_metrics, seed_everything
from framescope.train.sft import build_module, train_sft
from framescope.types import Prediction, Window

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "synth_videomind_grounder.yaml"
METRICS = ("R1@0.3", "R1@0.5", "R1@0.7", "R5@0.5", "mIoU")
# the recipe sized for a few CPU minutes: 8 sequences per step, up to 24 frames (1 fps) of
# 16-25 merged tokens each (the agent's default is 36-64)
DEMO = (
    "optim.global_batch_size=8",
    "video.max_frames=24",
    "video.min_pixels=12544",
    "video.max_pixels=19600",
)


def worlds(out: Path, train_videos: int, test_videos: int) -> tuple[Path, Path]:
    """A training world (seed 0) and a held-out one (seed 1), 16-24 s videos."""
    made = []
    for name, seed, n in (("world_train", 0, train_videos), ("world_test", 1, test_videos)):
        folder = out / name
        if not (folder / "world.json").is_file():
            generate_world(folder, seed=seed, num_videos=n, duration=(16, 24), overwrite=True)
        made.append(folder)
    return made[0], made[1]


def test_queries(world: Path) -> list[tuple[str, object]]:
    """(Charades-STA sample id, grounder record) pairs of the held-out world, checked aligned."""
    samples = load_charades(world / "charades_sta" / "charades_sta_test.txt")
    records = read_grounder(world / "videomind" / "grounder.jsonl", data_root=world).records
    assert len(samples) == len(records)
    for s, r in zip(samples, records):
        assert s.question.rstrip(".") == r.query and r.video.stem == s.video, (s, r)
    return [(s.id, r) for s, r in zip(samples, records)]


def predict_all(head, backend, cfg: TrainConfig, queries, reg: int) -> tuple[list, float]:
    """Ranked moments for every query, and the share whose greedy next token is ``<|reg|>``."""
    settings = VideoSettings(cfg.video.fps, cfg.video.max_frames, role_budget(cfg, backend))
    out, writes = [], 0
    backend.model.eval()
    head.eval()
    for k in range(0, len(queries), 8):
        chunk = queries[k : k + 8]
        batch = collate(backend, [grounder_example(backend, r, settings) for _, r in chunk])
        cands = grounder_head.predict(head, backend, batch, reg)
        out += [(ident, c) for (ident, _), c in zip(chunk, cands)]
        writes += reg_writes(backend, batch, reg)
    return out, writes / len(queries)


def reg_writes(backend, batch, reg: int) -> int:
    """Rows whose greedy next token at the position predicting ``<|reg|>`` is ``<|reg|>``."""
    from framescope.models.head_features import reg_query_positions

    at = reg_query_positions(batch.input_ids, reg)
    logits = backend.forward(
        batch.input_ids, batch.attention_mask, batch.position_ids, batch.vision, logits_to_keep=0
    ).logits  # (B, L, V): every position
    picked = logits[torch.arange(len(at)), at].argmax(-1)
    return int((picked == reg).sum())


def scored(predictions: list[tuple[str, object]], world: Path, path: Path) -> dict[str, float]:
    lines = [
        json.dumps(Prediction(ident, c.windows[:5], c.scores[:5]).to_dict())
        for ident, c in predictions
    ]
    atomic_write_text(path, "\n".join(lines) + "\n")
    result = score("charades_sta", [world / "charades_sta" / "charades_sta_test.txt"], [path])
    return {m: round(result.metrics[m], 2) for m in METRICS}


def kinds(world: Path) -> list[str]:
    """Each moment-retrieval query's event kind (``slow move`` apart), in the file's order."""
    manifest = json.loads((world / "world.json").read_text())
    out = []
    for video in manifest["videos"]:
        for task in video["tasks"]:
            if task["kind"] == "moment_retrieval":
                out.append("slow move" if "slowly" in task["question"] else task["type"])
    return out


def top1_iou(predictions: list[tuple[str, object]], queries) -> list[float]:
    """IoU of each query's first window with its ground truth."""
    return [temporal_iou_area(c.windows[0], r.span) for (_, c), (_, r) in zip(predictions, queries)]


def by_kind(ious: list[float], kind: list[str]) -> dict[str, float]:
    """Mean top-1 IoU (percent) per event kind."""
    groups: dict[str, list[float]] = {}
    for iou, k in zip(ious, kind):
        groups.setdefault(k, []).append(iou)
    return {k: round(100 * sum(v) / len(v), 1) for k, v in sorted(groups.items())}


def prior(train: Path, queries) -> list[tuple[str, object]]:
    """The mean training span (centre and length as fractions of the video) in every video."""
    from framescope.models.timestamp_head import Candidates

    rows = read_grounder(train / "videomind" / "grounder.jsonl", data_root=train).records
    frac = [
        ((r.span.start + r.span.end) / 2 / r.duration, r.span.duration / r.duration) for r in rows
    ]
    centre = sum(c for c, _ in frac) / len(frac)
    length = sum(n for _, n in frac) / len(frac)
    out = []
    for ident, r in queries:
        d = r.duration
        w = Window(max(0.0, (centre - length / 2) * d), min(d, (centre + length / 2) * d))
        out.append((ident, Candidates([w], [1.0])))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("runs/learns"))
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--train-videos", type=int, default=48)
    p.add_argument("--test-videos", type=int, default=12)
    p.add_argument("--preset", default="tiny", choices=["tiny", "small"])
    p.add_argument("--set", nargs="*", default=[], help="more config overrides (win over DEMO)")
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    train, test = worlds(args.out, args.train_videos, args.test_videos)
    overrides = [
        f"data.root={train}",
        f"model.tiny={args.preset}",
        f"output_dir={args.out / 'run'}",
        f"optim.max_steps={args.steps}",
        f"save_steps={args.steps}",
        *DEMO,
        *args.set,
    ]
    cfg = load_config(CONFIG, overrides)
    queries = test_queries(test)
    print(f"worlds: {train} (train), {test} ({len(queries)} held-out queries)", file=sys.stderr)

    # the model the run starts from (same seed, same build)
    import contextlib

    seed_everything(cfg.seed)
    with contextlib.ExitStack() as stack:
        module, trainable = build_module(cfg, Run(cfg), stack)
        reg = grounder_head.token_ids(trainable.backend).reg
        before, before_reg = predict_all(module.head, trainable.backend, cfg, queries, reg)
    del module, trainable

    t1 = time.perf_counter()
    result = train_sft(cfg)
    train_seconds = time.perf_counter() - t1
    assert result.checkpoint is not None
    backend = load_backend(result.checkpoint / "videomind")  # as inference loads it
    vm = backend.videomind
    with vm.roles.use("grounder"):
        after, after_reg = predict_all(vm.head, backend, cfg, queries, reg)

    rows = read_metrics(cfg.output_dir)
    kind = kinds(test)
    ious = {
        "untrained": top1_iou(before, queries),
        "trained": top1_iou(after, queries),
        "prior": top1_iou(prior(train, queries), queries),
    }
    report = {
        "config": str(CONFIG),
        "overrides": overrides,
        "train_rows": len(read_grounder(train / "videomind" / "grounder.jsonl", data_root=train)),
        "test_queries": len(queries),
        "steps": args.steps,
        "train_seconds": round(train_seconds, 1),
        "total_seconds": round(time.perf_counter() - t0, 1),
        "loss_first": rows[0]["loss"],
        "loss_last": rows[-1]["loss"],
        "untrained": scored(before, test, args.out / "pred_untrained.jsonl"),
        "trained": scored(after, test, args.out / "pred_trained.jsonl"),
        "prior": scored(prior(train, queries), test, args.out / "pred_prior.jsonl"),
        "miou_by_kind": {name: by_kind(v, kind) for name, v in ious.items()},
        "kinds": {k: kind.count(k) for k in sorted(set(kind))},
        "trained_better_worse": [
            sum(a > b for a, b in zip(ious["trained"], ious["untrained"])),
            sum(a < b for a, b in zip(ious["trained"], ious["untrained"])),
        ],
        "reg_written_untrained": before_reg,
        "reg_written_trained": after_reg,
        "threads": torch.get_num_threads(),
    }
    write_json(args.out / "results.json", report)
    print(f"{'model':<10} " + " ".join(f"{m:>7}" for m in METRICS))
    for name in ("untrained", "trained", "prior"):
        print(f"{name:<10} " + " ".join(f"{report[name][m]:>7.2f}" for m in METRICS))
    print("top-1 IoU by event kind (%): " + json.dumps(report["miou_by_kind"]))
    better, worse = report["trained_better_worse"]
    print(f"queries where training raised / lowered the top-1 IoU: {better} / {worse}")
    print(
        f"train: {args.steps} steps in {train_seconds:.0f} s, loss {report['loss_first']:.3f} -> "
        f"{report['loss_last']:.3f}; <|reg|> written: {before_reg:.0%} -> {after_reg:.0%}"
    )
    print(f"results: {args.out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
