"""A whole synthetic world written to a folder, one video planned in memory, the demo's video.
Tests, benchmarks, the demo, training and evaluation all use it.

``generate_world(out, seed, num_videos)`` writes (paths inside files are relative to ``out``)::

    out/videos/<video_id>.mp4
    out/world.json                          every video's objects, events (exact windows), tasks
    out/charades_sta/charades_sta_test.txt  "<video_id> <start> <end>##<sentence>." per moment
    out/nextgqa/test.csv                    video_id,frame_count,width,height,question,answer,qid,type,a0..a4
    out/nextgqa/gsub_test.json              {video_id: {"duration", "location": {qid: [[s, e]]}, "fps"}}
    out/videomme/test.json                  Video-MME rows (options "A. …", answer "A")
    out/dynframe/dm_rl.jsonl                {prompt, video, answer, fps, gt_span_start, gt_span_end}
    out/dynframe/dm_cot.json                DM-CoT SFT rows (ShareGPT): reason, retrieve, answer
    out/videomind/grounder.jsonl            {video_path, duration, query, span}
    out/videomind/planner.jsonl             {video_path, duration, question, query, route}

Determinism: video ``k`` of seed ``s`` is drawn from its own generator ``default_rng([s, k])``, so
it is the same whatever ``num_videos`` is (a world of 8 videos is a prefix of one of 16), and the
same seed gives the same scenes, annotations and decoded frames. The encoder output is
byte-identical too with this PyAV / x264 build (checked by the tests); a different x264 build may
change the bytes, never the decoded frames' ground truth.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from framescope.fileio import atomic_write_text, write_json
from framescope.synth.records import dm_cot_rows, grounder_rows, planner_rows
from framescope.synth.scene import (
    BACKGROUND,
    PALETTE,
    SHAPES,
    STOPS,
    Event,
    Scene,
    SynthError,
    check_config,
    plan_scene,
)
from framescope.synth.tasks import (
    Task,
    WorldVideo,
    build_tasks,
    charades_sta_text,
    dm_rl_rows,
    jsonl_text,
    nextgqa_csv_text,
    nextgqa_gsub,
    videomme_records,
)
from framescope.video.encode import write_video

WORLD_FORMAT, WORLD_VERSION = "framescope-synth-world", 1
WORLD_FILES = {
    "manifest": "world.json",
    "videos": "videos",
    "charades_sta": "charades_sta/charades_sta_test.txt",
    "nextgqa_qa": "nextgqa/test.csv",
    "nextgqa_grounding": "nextgqa/gsub_test.json",
    "videomme": "videomme/test.json",
    "dm_rl": "dynframe/dm_rl.jsonl",
    "dm_cot": "dynframe/dm_cot.json",
    "grounder": "videomind/grounder.jsonl",
    "planner": "videomind/planner.jsonl",
}
CRF = 20
KEYFRAME_SECONDS = 2  # short GOPs: cheap seeks for retrieval at any window


def write_scene_video(scene: Scene, path: str | os.PathLike[str], crf: int = CRF) -> Path:
    """Render ``scene`` and encode it as H.264 (constant rate, keyframe every 2 s), atomically."""
    return write_video(
        path, scene.frames(), fps=scene.fps, crf=crf, gop=KEYFRAME_SECONDS * scene.fps
    )


def make_video(
    seed: int,
    index: int,
    *,
    duration: tuple[int, int] = (30, 60),
    fps: int = 10,
    size: tuple[int, int] = (320, 240),
    num_objects: tuple[int, int] = (3, 4),
) -> tuple[Scene, tuple[Task, ...]]:
    """Scene and tasks of video ``index`` of world ``seed`` (nothing is written)."""
    rng = np.random.default_rng([seed, index])
    seconds = int(rng.integers(duration[0], duration[1] + 1))
    count = int(rng.integers(num_objects[0], num_objects[1] + 1))
    scene = plan_scene(
        f"synth_s{seed}_{index:04d}",
        rng,
        seconds=seconds,
        fps=fps,
        width=size[0],
        height=size[1],
        num_objects=count,
    )
    return scene, build_tasks(scene, rng, index)


def _check_world_args(
    seed: int,
    num_videos: int,
    duration: tuple[int, int],
    fps: int,
    size: tuple[int, int],
    num_objects: tuple[int, int],
) -> None:
    if not isinstance(seed, int) or seed < 0:
        raise SynthError(f"seed must be a non-negative integer, got {seed!r}")
    if not isinstance(num_videos, int) or num_videos < 1:
        raise SynthError(f"num_videos must be a positive integer, got {num_videos!r}")
    for name, pair in (("duration", duration), ("num_objects", num_objects)):
        if len(pair) != 2 or pair[0] > pair[1]:
            raise SynthError(f"{name} must be a (min, max) pair with min <= max, got {pair!r}")
    if len(size) != 2:
        raise SynthError(f"size must be (width, height), got {size!r}")
    for seconds in duration:  # the extremes: fail before anything is written
        check_config(seconds, fps, size[0], size[1], num_objects[0])
        check_config(seconds, fps, size[0], size[1], num_objects[1])


def _prepare_folder(out: Path, overwrite: bool) -> list[str]:
    """Make ``out`` ready; return the video paths of a world it already holds (to replace)."""
    if out.exists() and not out.is_dir():
        raise SynthError(f"{out} exists and is not a folder")
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise SynthError(f"{out} is not empty; choose an empty folder, or overwrite (--force)")
        old = out / WORLD_FILES["manifest"]
        if old.is_file():
            try:
                previous = [v["path"] for v in json.loads(old.read_text())["videos"]]
            except (ValueError, KeyError, TypeError) as e:
                raise SynthError(f"{old} is not a synthetic world manifest: {e}") from None
            old.unlink()  # no manifest while the world is rebuilt: readers see "incomplete"
            return previous
    out.mkdir(parents=True, exist_ok=True)
    return []


def generate_world(
    out_dir: str | os.PathLike[str],
    seed: int = 0,
    num_videos: int = 8,
    *,
    duration: tuple[int, int] = (30, 60),
    fps: int = 10,
    size: tuple[int, int] = (320, 240),
    num_objects: tuple[int, int] = (3, 4),
    crf: int = CRF,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Write a synthetic world to ``out_dir`` and return its manifest (also ``world.json``).

    Each video lasts a whole number of seconds drawn from ``duration``, has ``num_objects`` shapes
    (3-5) and is ``size`` pixels at ``fps`` (one of ``ALLOWED_FPS``). A non-empty ``out_dir`` is
    refused unless ``overwrite``; then the previous world's videos are replaced. Every file is
    written atomically and ``world.json`` last, so a complete world is one with a manifest.
    """
    _check_world_args(seed, num_videos, duration, fps, size, num_objects)
    out = Path(out_dir)
    previous = _prepare_folder(out, overwrite)
    (out / WORLD_FILES["videos"]).mkdir(exist_ok=True)

    videos = []
    for index in range(num_videos):
        scene, tasks = make_video(
            seed, index, duration=duration, fps=fps, size=size, num_objects=num_objects
        )
        rel = f"{WORLD_FILES['videos']}/{scene.video_id}.mp4"
        write_scene_video(scene, out / rel, crf=crf)
        videos.append(WorldVideo(scene, tasks, rel, index))
    for rel in set(previous) - {v.path for v in videos}:
        stale = out / rel
        if stale.parent == out / WORLD_FILES["videos"]:  # only what an old manifest listed there
            stale.unlink(missing_ok=True)

    atomic_write_text(out / WORLD_FILES["charades_sta"], charades_sta_text(videos))
    atomic_write_text(out / WORLD_FILES["nextgqa_qa"], nextgqa_csv_text(videos))
    write_json(out / WORLD_FILES["nextgqa_grounding"], nextgqa_gsub(videos))
    write_json(out / WORLD_FILES["videomme"], videomme_records(videos))
    atomic_write_text(out / WORLD_FILES["dm_rl"], jsonl_text(dm_rl_rows(videos)))
    write_json(out / WORLD_FILES["dm_cot"], dm_cot_rows(videos))
    atomic_write_text(out / WORLD_FILES["grounder"], jsonl_text(grounder_rows(videos)))
    atomic_write_text(out / WORLD_FILES["planner"], jsonl_text(planner_rows(videos)))
    manifest = {
        "format": WORLD_FORMAT,
        "version": WORLD_VERSION,
        "seed": seed,
        "config": {
            "num_videos": num_videos,
            "duration": list(duration),
            "fps": fps,
            "size": list(size),
            "num_objects": list(num_objects),
            "encoder": {"codec": "libx264", "crf": crf, "keyframe_seconds": KEYFRAME_SECONDS},
        },
        "palette": {name: list(rgb) for name, rgb in PALETTE.items()},
        "background": list(BACKGROUND),
        "shapes": list(SHAPES),
        "stops": list(STOPS),
        "files": dict(WORLD_FILES),
        "videos": [
            {
                **v.scene.to_dict(),
                "path": v.path,
                "videomme_id": v.videomme_id,
                "tasks": [t.to_dict() for t in v.tasks],
            }
            for v in videos
        ],
    }
    write_json(out / WORLD_FILES["manifest"], manifest)
    return manifest


def demo_video(path: str | os.PathLike[str], seed: int = 0) -> tuple[Path, Event]:
    """A 20 s, 320x240, 10 fps video with a mover, a blinker and an appearer; returns the file and
    its main event, the mover's first move."""
    rng = np.random.default_rng([seed, 0xDE30])
    scene = plan_scene(
        "demo",
        rng,
        seconds=20,
        fps=10,
        width=320,
        height=240,
        roles=("mover", "blinker", "appearer"),
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    main = next(e for e in scene.events if e.kind == "move")
    return write_scene_video(scene, path), main
