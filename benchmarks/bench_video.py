"""Video fetching speed: framescope (cold and warm) vs decord, torchcodec and decode-everything.

Generates (once, cached in --work) a 10-minute 1280x720 H.264 video at 25 fps with a keyframe every
250 frames (10 s GOP, as long-GOP web video has), whose frames carry their own index. Then, for
several request shapes (windows at several densities and a uniform overview), fetches the same
frames with each method in this one process and prints a table of median seconds per request.
Every method's frames are checked against the index stamped in the pixels.

Peak memory (VmHWM) is measured in fresh subprocesses for the same request on a 1-minute and the
10-minute video.

Usage: python benchmarks/bench_video.py [--work bench_out] [--repeats 3] [--quick]
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import statistics
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np

from framescope.types import Window
from framescope.video.cache import FrameCache
from framescope.video.encode import read_index, stamp_index, write_video
from framescope.video.probe import probe
from framescope.video.sampling import sample

FPS = 25
GOP = 250
SIZE = (1280, 720)


def make_video(path: Path, seconds: int) -> Path:
    """A panning texture with moving shapes: motion the encoder can predict, like real footage
    (a few Mbit/s), rather than fresh noise every frame (which no codec compresses)."""
    if path.exists():
        return path
    w, h = SIZE
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 256, (h // 8 + 1, 2 * w // 8 + 1, 3), dtype=np.uint8)
    texture = np.repeat(np.repeat(texture, 8, axis=0), 8, axis=1)[:h]  # 8x8 blocks, twice as wide
    yy = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]

    def frames():
        for i in range(seconds * FPS):
            t = i / FPS
            x0 = int(40 * t) % w  # pan 40 px/s
            frame = (texture[:, x0 : x0 + w] * (0.6 + 0.4 * yy)).astype(np.uint8)
            cx = int((w - 160) * (0.5 + 0.5 * np.sin(t / 3)))
            cy = int((h - 160) * (0.5 + 0.5 * np.cos(t / 5)))
            frame[cy : cy + 160, cx : cx + 160] = (255 * ((i // 25) % 2), 40, 200)
            yield stamp_index(frame, i, band=0.08)

    print(f"generating {path} ({seconds} s, {w}x{h}, {FPS} fps, GOP {GOP}) ...", flush=True)
    return write_video(path, frames(), fps=FPS, gop=GOP, crf=23, preset="veryfast")


def requests(duration: float) -> dict[str, list[tuple[Window | None, dict]]]:
    """Request shapes: name -> list of (window, sample kwargs); positions spread over the video."""
    starts = [37.0, 211.0, 398.5, 523.0]
    return {
        "10 s @ 2 fps": [(Window(s, s + 10), {"fps": 2}) for s in starts],
        "10 s @ 8 fps": [(Window(s, s + 10), {"fps": 8}) for s in starts],
        "2 s @ 25 fps": [(Window(s, s + 2), {"fps": 25}) for s in starts],
        "60 s @ 1 fps": [(Window(s, s + 60), {"fps": 1}) for s in starts[:3]],
        "overview 32": [(None, {"num_frames": 32})],
    }


def check(frames: np.ndarray, indices: list[int]) -> None:
    got = [read_index(f, band=0.08) for f in frames]
    if got != list(indices):
        raise AssertionError(f"wrong frames: {got[:6]} vs {list(indices)[:6]}")


def fs_fetch(
    path: Path, window: Window | None, kw: dict, cache: FrameCache, exact: bool
) -> list[int]:
    clip = sample(path, window, budget=None, cache=cache, exact=exact, **kw)
    idx = [round(t * FPS) for t in clip.timestamps]
    check(clip.frames, idx)
    return idx


def naive_fetch(path: Path, indices: list[int]) -> None:
    """Decode every frame from the start up to the last one wanted (the research code's way)."""
    wanted = set(indices)
    out = {}
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        for k, f in enumerate(c.decode(s)):
            if k in wanted:
                out[k] = f.to_ndarray(format="rgb24")
            if k >= max(indices):
                break
    check(np.stack([out[i] for i in indices]), indices)


def decord_fetch(reader, indices: list[int]) -> None:
    frames = reader.get_batch(indices).asnumpy()
    check(frames, indices)


def torchcodec_fetch(reader, indices: list[int]) -> None:
    frames = reader.get_frames_at(indices).data.numpy()
    check(frames, indices)


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def measure(
    path: Path, name: str, window: Window | None, kw: dict, others: dict, repeats: int, naive: bool
) -> dict:
    """One request shape at one position, every method; naive decode-all only where ``naive``."""
    exact_idx = fs_fetch(path, window, kw, FrameCache(0), exact=True)
    row = {
        "request": name,
        "window": None if window is None else window.to_list(),
        "frames": len(exact_idx),
    }
    row["framescope cold"] = timed(
        lambda: fs_fetch(path, window, kw, FrameCache(0), exact=False), repeats
    )
    row["framescope cold exact"] = timed(
        lambda: fs_fetch(path, window, kw, FrameCache(0), exact=True), repeats
    )
    warm = FrameCache()
    fs_fetch(path, window, kw, warm, exact=False)
    row["framescope warm"] = timed(lambda: fs_fetch(path, window, kw, warm, exact=False), repeats)
    for label, fetch in others.items():
        row[label] = timed(functools.partial(fetch, exact_idx), repeats)
    if naive:
        row["naive decode-all"] = timed(lambda: naive_fetch(path, exact_idx), 1)
    return row


def vm_hwm() -> float:
    """This process's peak resident memory in MiB (VmHWM; unlike ru_maxrss it is not inherited
    from the parent across exec)."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024


def peak_rss(path: Path, window: Window) -> float:
    """Peak memory (MiB) of a fresh process that imports framescope and fetches one window."""
    code = (
        "import sys; from framescope.video.sampling import sample; from framescope.types import Window;"
        f"sample(sys.argv[1], Window({window.start}, {window.end}), fps=2, budget=None);"
        "print(next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM:')) / 1024)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True
    )
    return float(out.stdout.strip())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", default="bench_out", type=Path)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--quick", action="store_true", help="a 2-minute video instead of 10 (for a smoke run)"
    )
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    seconds = 120 if args.quick else 600
    path = make_video(args.work / f"long_gop_{seconds}s_720p.mp4", seconds)
    info = probe(path)
    print(
        f"video: {info.duration:.0f} s, {info.frame_count} frames, {info.width}x{info.height}, "
        f"{len(info.keyframes)} keyframes, {path.stat().st_size / 2**20:.0f} MiB"
    )
    others = {}  # the alternatives that are installed, each with its reader opened (not timed)
    try:
        import decord

        dreader = decord.VideoReader(str(path), ctx=decord.cpu(0))
        others["decord get_batch"] = lambda idx: decord_fetch(dreader, idx)
    except ImportError:
        print("decord not installed: skipped")
    try:
        from torchcodec.decoders import VideoDecoder

        treader = VideoDecoder(str(path), seek_mode="exact", dimension_order="NHWC")
        others["torchcodec get_frames_at"] = lambda idx: torchcodec_fetch(treader, idx)
    except (ImportError, RuntimeError) as e:  # RuntimeError: no system FFmpeg libraries
        print(f"torchcodec not usable ({type(e).__name__}): skipped")

    rows = []
    for name, reqs in requests(info.duration).items():
        reqs = [(w, kw) for w, kw in reqs if w is None or w.end <= info.duration]
        for k, (window, kw) in enumerate(reqs):
            rows.append(
                measure(path, name, window, kw, others, args.repeats, naive=k == len(reqs) // 2)
            )
            print(
                json.dumps(
                    {k: round(v, 4) if isinstance(v, float) else v for k, v in rows[-1].items()}
                ),
                flush=True,
            )

    methods = [
        "framescope cold",
        "framescope cold exact",
        "framescope warm",
        *others,
        "naive decode-all",
    ]
    methods = [m for m in methods if any(m in r for r in rows)]
    print("\nmedian seconds per request (over positions), lower is better")
    print("| request | frames | " + " | ".join(methods) + " | cold / best other | cold / warm |")
    print("|---|---|" + "---|" * (len(methods) + 2))
    for name in dict.fromkeys(r["request"] for r in rows):
        rs = [r for r in rows if r["request"] == name]
        med = {m: statistics.median([r[m] for r in rs if m in r] or [math.nan]) for m in methods}
        others = [
            med[m] for m in methods if not m.startswith("framescope") and not math.isnan(med[m])
        ]
        ratio = med["framescope cold"] / min(others)
        print(
            f"| {name} | {rs[0]['frames']} | "
            + " | ".join(f"{med[m]:.3f}" for m in methods)
            + f" | {ratio:.2f} | {med['framescope cold'] / med['framescope warm']:.0f}x |"
        )

    short = make_video(args.work / "long_gop_60s_720p.mp4", 60)
    window = Window(30.0, 40.0)
    print("\npeak RSS (MiB) of a fresh process fetching 10 s @ 2 fps, native 720p frames:")
    print(
        f"| video | peak RSS |\n|---|---|\n| 1 min | {peak_rss(short, window):.0f} |\n"
        f"| {seconds // 60} min | {peak_rss(path, window):.0f} |"
    )
    print(f"(this benchmark process, all methods: {vm_hwm():.0f} MiB)")


if __name__ == "__main__":
    main()
