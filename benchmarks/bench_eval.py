"""Evaluation throughput by batch size: is batching worth it on this device?

``framescope eval`` of the synthetic world's Charades-STA part with the ``dynframe`` method and a
random-weight Qwen3-VL (``framescope.models.tiny``, preset ``--preset``), the same samples at each
``--batch-sizes`` value, in one process, the sizes interleaved over ``--repeats`` rounds (each
round into a fresh output folder; round 0 is a warm-up). Rows run to ``--max-new-tokens`` (random
weights rarely stop early), so the comparison is the forward passes themselves: one row of B
against B rows padded to the longest prompt. Prints the best wall time per size and samples/s.

Usage: python benchmarks/bench_eval.py [--preset tiny] [--batch-sizes 1 4] [--samples 8]
       [--repeats 2] [--device cpu] [--threads N]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import torch

from framescope.eval.runner import run_eval
from framescope.models.hf import load_backend
from framescope.models.tiny import save_tiny_model
from framescope.settings import InferConfig
from framescope.synth import generate_world


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="tiny", choices=["tiny", "small"])
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--samples", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        world = root / "world"
        generate_world(world, seed=5, num_videos=max(2, args.samples // 2), duration=(20, 30))
        model = save_tiny_model("qwen3_vl", root / "model", preset=args.preset)
        backend = load_backend(model, device=args.device)
        base = InferConfig(max_new_tokens=args.max_new_tokens, overview_max_frames=16)
        best: dict[int, float] = {}
        for round_ in range(args.repeats + 1):  # round 0 warms up (decoding, allocator)
            for size in args.batch_sizes:
                infer = dataclasses.replace(base, batch_size=size)
                out = root / f"out_{size}_{round_}"
                start = time.perf_counter()
                summary = run_eval(
                    "charades_sta",
                    world / "charades_sta",
                    model,
                    "dynframe",
                    infer,
                    out,
                    limit=args.samples,
                    video_dir=world / "videos",
                    backend=backend,
                )
                seconds = time.perf_counter() - start
                assert summary.ran == args.samples and not summary.failures
                if round_:
                    best[size] = min(best.get(size, seconds), seconds)
    print(
        f"preset {args.preset}, {args.samples} samples, {args.max_new_tokens} new tokens, "
        f"device {args.device}, threads {torch.get_num_threads()}"
    )
    print(f"{'batch':>5}  {'best s':>7}  {'samples/s':>9}  {'vs batch 1':>10}")
    one = best.get(1)
    for size, seconds in best.items():
        ratio = f"{one / seconds:.2f}x" if one else "-"
        print(f"{size:>5}  {seconds:7.2f}  {args.samples / seconds:9.2f}  {ratio:>10}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
