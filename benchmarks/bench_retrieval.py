"""Retrieval episodes: KV-cache continuation vs re-running the full sequence after each splice.

One greedy DynFrame episode with 3 retrievals, run through the real loop (``RetrievalSession``
+ ``Engine``) twice: ``continuation="cache"`` (framescope: after ``</fps>`` only the new clip and
text are fed, positions sliced from the full-sequence 3-D rope) and ``continuation="rerun"``
(DynFrame's release: after each retrieval the whole sequence, every clip's pixels included, is
fed again from an empty cache). The requests are forced so both strategies do exactly the same
work on random weights: the model samples ``--gap`` tokens, the runtime writes
``<span>s - e</span><fps>2</fps>`` (a 4 s window), the loop fetches and splices it; three times,
then ``--gap`` more tokens. Stop tokens are off. Outputs are asserted identical (same tokens,
log-probabilities within 1e-4).

Models are random-weight Qwen-VL checkpoints of ``framescope.models.tiny`` (presets ``tiny``:
hidden 64 / 2 layers; ``small``: hidden 512 / 8 layers; ``7b``: Qwen2.5-VL-7B shapes, GPU only,
bf16) with the preset's processor pixel budget; the video is the 20 s synthetic demo video.
The context length is set by the overview in the prompt (``--overview-frames``). Timings are
the best (minimum) wall time of ``Engine.generate`` over ``--repeats`` runs, the two strategies
interleaved, after one warm-up each (frames are decoded once and cached, so decoding is not part
of the comparison); the minimum because a shared CPU only ever adds time.

Usage: python benchmarks/bench_retrieval.py [--presets tiny small] [--overview-frames 8 32 64]
       [--family qwen2_5_vl] [--device cpu] [--dtype float32] [--repeats 3] [--threads N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from framescope.models.engine import Engine, Row
from framescope.models.hf import HFBackend
from framescope.models.tiny import build_model, build_processor
from framescope.retrieval.grammar import format_request
from framescope.retrieval.loop import InferConfig, RetrievalSession, Sample, scripted
from framescope.synth import demo_video
from framescope.types import Window
from framescope.video.cache import FrameCache

WINDOWS = (Window(3, 7), Window(8, 12), Window(13, 17))  # three 4 s retrievals at 2 fps


def episode(
    backend: HFBackend, video: Path, config: InferConfig, mode: str, gap: int
) -> tuple[list[Row], float, int]:
    """One episode; returns the rows, seconds in ``generate`` and the prompt length."""
    session = RetrievalSession(backend, [Sample("bench", str(video), "When does it move?")], config)
    hook = scripted(backend, session.hook, [format_request(w, 2) for w in WINDOWS], every=gap)
    engine = Engine(backend, continuation=mode)
    start = time.perf_counter()
    rows = engine.generate(
        session.prompts,
        max_new_tokens=gap * (len(WINDOWS) + 1),
        stop_token_ids=(),
        seeds=session.seeds,
        hook=hook,
    )
    if backend.device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    traces = session.finish(rows)
    assert traces[0].usage.rounds == len(WINDOWS), traces[0].usage
    return rows, seconds, traces[0].usage.prompt_tokens


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--presets", nargs="+", default=["tiny", "small"])
    ap.add_argument("--overview-frames", nargs="+", type=int, default=[8, 32, 64])
    ap.add_argument("--family", default="qwen2_5_vl")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    ap.add_argument("--gap", type=int, default=16, help="tokens sampled between requests")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dtype = getattr(torch, args.dtype)
    video = demo_video(Path(tempfile.mkdtemp(prefix="bench_retrieval_")) / "demo.mp4")[0]
    frames = FrameCache()
    print(
        f"{args.family}, {args.device}, {args.dtype}, torch threads {torch.get_num_threads()}, "
        f"3 retrievals, {args.gap} tokens between, best of {args.repeats} interleaved runs"
    )
    header = "| preset | overview frames | prompt tokens | final tokens | cache s | rerun s | speed-up | outputs |"
    print(header + "\n|" + "---|" * 8)
    for preset in args.presets:
        model = build_model(args.family, preset, dtype=dtype, device=args.device)
        backend = HFBackend(build_processor(args.family, preset), model, args.family)
        for n in args.overview_frames:
            # the overview: n frames spread over the 20 s video (fps chosen to give exactly n)
            config = InferConfig(overview_fps=n / 20.0, overview_max_frames=n, frame_cache=frames)
            times: dict[str, list[float]] = {"cache": [], "rerun": []}
            results = {}
            for mode in times:  # warm-up (and the one decode of every frame)
                episode(backend, video, config, mode, args.gap)
            for _ in range(args.repeats):  # interleaved, so load from other processes hits both
                for mode in times:
                    rows, seconds, prompt = episode(backend, video, config, mode, args.gap)
                    times[mode].append(seconds)
                    results[mode] = rows[0]
            a, b = results["cache"], results["rerun"]
            if dtype == torch.float32:  # bf16 rounding may flip a near-tie between the two paths
                assert a.tokens == b.tokens, "cache and rerun disagree"
                assert max(abs(x - y) for x, y in zip(a.logprobs, b.logprobs)) < 1e-4
            same = "same" if a.tokens == b.tokens else "differ"
            cache, rerun = min(times["cache"]), min(times["rerun"])
            print(
                f"| {preset} | {n} | {prompt} | {len(a.tokens)} | {cache:.3f} | {rerun:.3f} "
                f"| {rerun / cache:.2f}× | {same} |",
                flush=True,
            )
        del backend, model


if __name__ == "__main__":
    main()
