"""Video commands: ``probe`` and ``sample`` a file, write a synthetic world (``synth``) or a
random-weight checkpoint (``tiny-model``)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from framescope.config import number
from framescope.families import NAMES as FAMILIES


def cmd_probe(args: argparse.Namespace) -> int:
    from framescope.video.probe import probe

    info = probe(args.video)
    print(json.dumps(info.to_dict(timestamps=args.timestamps), indent=2))
    return 0


def _budget(args: argparse.Namespace):  # -> PixelBudget | None
    from framescope.video.sampling import PixelBudget

    if args.native:
        return None
    base = PixelBudget.for_family(args.family)
    return PixelBudget(
        min_pixels=args.min_pixels if args.min_pixels is not None else base.min_pixels,
        max_pixels=args.max_pixels if args.max_pixels is not None else base.max_pixels,
        factor=base.factor,
    )


def cmd_sample(args: argparse.Namespace) -> int:
    from PIL import Image

    from framescope.fileio import check_output_folder, output_folder, write_json, write_png
    from framescope.types import Window
    from framescope.video.probe import probe
    from framescope.video.sampling import sample

    check_output_folder(args.out, args.overwrite)  # before the work; cleared only after it
    info = probe(args.video)
    window = None
    if args.start is not None or args.end is not None:
        window = Window(
            args.start if args.start is not None else 0.0,
            args.end if args.end is not None else info.duration,
        )
    clip = sample(
        info,
        window,
        fps=args.fps,
        num_frames=args.num_frames,
        max_frames=args.max_frames,
        min_frames=args.min_frames,
        budget=_budget(args),
        exact=args.exact,
        decoder=args.decoder,
    )
    out = output_folder(args.out, args.overwrite)
    for k, (frame, t) in enumerate(zip(clip.frames, clip.timestamps)):
        write_png(out / f"frame_{k:04d}_{t:010.3f}s.png", Image.fromarray(frame))
    write_json(out / "timestamps.json", [round(t, 6) for t in clip.timestamps], indent=None)
    h, w = clip.frames.shape[1:3]
    print(f"{len(clip)} frames {w}x{h} from {clip.window} → {out}")
    for note in clip.notes:
        print(f"note: {note}")
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    from framescope.synth import generate_world

    t0 = time.perf_counter()
    manifest = generate_world(
        args.out,
        seed=args.seed,
        num_videos=args.num_videos,
        duration=(args.min_duration, args.max_duration),
        fps=args.fps,
        size=(args.width, args.height),
        num_objects=(args.min_objects, args.max_objects),
        overwrite=args.force,
    )
    kinds: dict[str, int] = {}
    for video in manifest["videos"]:
        for task in video["tasks"]:
            kinds[task["kind"]] = kinds.get(task["kind"], 0) + 1
    seconds = sum(v["duration"] for v in manifest["videos"])
    print(
        f"synthetic world (seed {args.seed}): {len(manifest['videos'])} videos, {seconds:.0f} s "
        f"in all, {time.perf_counter() - t0:.1f} s to make → {args.out}"
    )
    print("tasks: " + ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())))
    for name, rel in manifest["files"].items():
        print(f"{name}: {Path(args.out) / rel}")
    return 0


def cmd_tiny_model(args: argparse.Namespace) -> int:
    from framescope.models.tiny import save_tiny_model

    t0 = time.perf_counter()
    out = save_tiny_model(
        args.family,
        args.out,
        preset=args.preset,
        seed=args.seed,
        overwrite=args.force,
        numbers=args.numbers,
    )
    print(
        f"{args.preset} random-weight {args.family} (seed {args.seed}) → {out} "
        f"in {time.perf_counter() - t0:.1f} s"
    )
    return 0


def _add_budget_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--family",
        default="qwen2_5_vl",
        choices=FAMILIES,
        help="model family whose pixel budget and size factor to use (default: qwen2_5_vl)",
    )
    p.add_argument(
        "--min-pixels", type=int, help="per-frame minimum pixels (default: the family's)"
    )
    p.add_argument(
        "--max-pixels", type=int, help="per-frame maximum pixels (default: the family's)"
    )
    p.add_argument(
        "--native", action="store_true", help="keep the native frame size (no pixel budget)"
    )


def add(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    from framescope.video.decode import DECODERS

    p = sub.add_parser(parents=[common], name="probe", help="print what a video file holds (JSON)")
    p.add_argument("video")
    p.add_argument(
        "--timestamps", action="store_true", help="include every frame's presentation time"
    )
    p.set_defaults(func=cmd_probe)

    p = sub.add_parser(
        parents=[common],
        name="sample",
        help="sample a window at a density and write PNG frames + timestamps.json",
    )
    p.add_argument("video")
    p.add_argument("--start", type=number, help="window start in seconds (default 0)")
    p.add_argument("--end", type=number, help="window end in seconds (default: end of video)")
    rate = p.add_mutually_exclusive_group(required=True)
    rate.add_argument("--fps", type=number, help="frames per second to sample (fractions allowed)")
    rate.add_argument("--num-frames", type=int, help="number of frames to sample, evenly spread")
    p.add_argument(
        "--max-frames", type=int, default=768, help="cap on the frame count (default 768)"
    )
    p.add_argument("--min-frames", type=int, default=2, help="floor on the frame count (default 2)")
    p.add_argument(
        "--exact", action="store_true", help="always the nearest frame (no keyframe shortcut)"
    )
    p.add_argument("--decoder", default="pyav", choices=list(DECODERS), help="decoding backend")
    _add_budget_args(p)
    p.add_argument("--out", required=True, help="output folder (must be empty unless --overwrite)")
    p.add_argument("--overwrite", action="store_true", help="clear a non-empty --out first")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser(
        parents=[common],
        name="synth",
        help="write a synthetic world: H.264 videos, exact events, benchmark-format tasks",
    )
    p.add_argument("--out", required=True, help="output folder (must be empty unless --overwrite)")
    p.add_argument("--seed", type=int, default=0, help="world seed (default 0)")
    p.add_argument("--num-videos", type=int, default=8, help="number of videos (default 8)")
    p.add_argument("--min-duration", type=int, default=30, help="shortest video, s (default 30)")
    p.add_argument("--max-duration", type=int, default=60, help="longest video, s (default 60)")
    p.add_argument("--fps", type=int, default=10, help="frame rate: 10, 20, 25 or 50 (default 10)")
    p.add_argument("--width", type=int, default=320, help="frame width, even (default 320)")
    p.add_argument("--height", type=int, default=240, help="frame height, even (default 240)")
    p.add_argument(
        "--min-objects", type=int, default=3, help="fewest shapes per video (3-5, default 3)"
    )
    p.add_argument(
        "--max-objects", type=int, default=4, help="most shapes per video (3-5, default 4)"
    )
    p.add_argument(
        "--overwrite",
        "--force",
        dest="force",
        action="store_true",
        help="replace the world in a non-empty --out",
    )
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser(
        parents=[common],
        name="tiny-model",
        help="write a random-weight Qwen-VL checkpoint folder (offline, for tests)",
    )
    p.add_argument(
        "--family",
        required=True,
        choices=FAMILIES,
        help="model family",
    )
    p.add_argument("--out", required=True, help="output folder (must be empty unless --overwrite)")
    p.add_argument(
        "--preset",
        default="tiny",
        choices=["tiny", "train", "small", "7b"],
        help="tiny (tests), train (~1M parameters, trainable on a CPU), small (CPU benchmarks) "
        "or 7b (qwen2_5_vl only; ~16 GB)",
    )
    p.add_argument("--numbers", action="store_true", help="whole tokens for 0-99 and 0.0-99.9")
    p.add_argument("--seed", type=int, default=0, help="weight seed (default 0)")
    p.add_argument(
        "--overwrite",
        "--force",
        dest="force",
        action="store_true",
        help="replace a non-empty --out",
    )
    p.set_defaults(func=cmd_tiny_model)
