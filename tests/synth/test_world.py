"""The synthetic world: determinism, ground truth read back from decoded pixels, annotation files in
their benchmarks' formats, the ``framescope synth`` and ``framescope demo`` commands."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest

from framescope.cli import main
from framescope.synth import (
    BACKGROUND,
    PALETTE,
    WORLD_FILES,
    Scene,
    SynthError,
    demo_video,
    generate_world,
    make_video,
)
from framescope.types import Window
from framescope.video import decode, probe, sample

from .conftest import SEED, SMALL


def _scenes(world: tuple[Path, dict]) -> list[tuple[Path, Scene, dict]]:
    out, manifest = world
    result = []
    for index, video in enumerate(manifest["videos"]):
        scene, _ = make_video(SEED, index, **SMALL)
        result.append((out / video["path"], scene, video))
    return result


# --- reading ground truth back from pixels ------------------------------------------------------


def _erode(mask: np.ndarray, steps: int = 2) -> np.ndarray:
    """Drop the rim, where chroma subsampling mixes an object with the background (as far as a
    thin shape, a small ring say, keeps some pixels)."""
    m = mask
    for _ in range(steps):
        inner = m.copy()
        inner[1:] &= m[:-1]
        inner[:-1] &= m[1:]
        inner[:, 1:] &= m[:, :-1]
        inner[:, :-1] &= m[:, 1:]
        if inner.sum() < 4:
            break
        m = inner
    return m


def _seen(image: np.ndarray, scene: Scene, object_id: str, frame: int) -> str | None:
    """The palette colour shown where the object would be drawn, or None for background."""
    mean = image[_erode(scene.footprint(object_id, frame))].astype(float).mean(axis=0)
    if np.linalg.norm(mean - BACKGROUND) < 25:
        return None
    name, rgb = min(PALETTE.items(), key=lambda kv: np.linalg.norm(mean - kv[1]))
    assert np.linalg.norm(mean - rgb) < 40, f"colour {mean} is no palette colour"
    return name


def _seen_x(image: np.ndarray, scene: Scene, object_id: str) -> float:
    """Centre column of what is drawn in the object's lane (every shape is left-right symmetric)."""
    obj = scene.object(object_id)
    band = image[obj.y - obj.radius : obj.y + obj.radius + 1].astype(float)
    ink = np.linalg.norm(band - BACKGROUND, axis=-1) > 60
    return float(np.nonzero(ink)[1].mean())


def _frames(path: Path, scene: Scene, frames: list[int]) -> dict[int, np.ndarray]:
    clip = decode(path, [f / scene.fps for f in frames], tolerance=1e-3)
    assert np.allclose(clip.timestamps, [f / scene.fps for f in frames], atol=1e-6)
    return dict(zip(frames, clip.frames))


# --- determinism --------------------------------------------------------------------------------


def test_same_seed_same_world_to_the_byte(world, tmp_path):
    out, manifest = world
    again = generate_world(tmp_path / "again", seed=SEED, num_videos=3, **SMALL)
    assert again == manifest
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        rel = path.relative_to(out)
        assert (tmp_path / "again" / rel).read_bytes() == path.read_bytes(), rel


def test_videos_do_not_depend_on_world_size_and_seeds_differ(world):
    _, manifest = world
    scene, tasks = make_video(SEED, 2, **SMALL)
    assert manifest["videos"][2]["events"] == [e.to_dict() for e in scene.events]
    assert manifest["videos"][2]["tasks"] == [t.to_dict() for t in tasks]
    other, _ = make_video(SEED + 1, 2, **SMALL)
    assert other.to_dict()["events"] != scene.to_dict()["events"]


# --- ground truth from decoded pixels -----------------------------------------------------------


def test_every_frame_shows_the_scripted_state(world):
    """Whenever no transition is under way, every object's presence, colour and position is what
    the script says — in every frame of every video, as decoded from the H.264 file."""
    checked = 0
    for path, scene, video in _scenes(world):
        info = probe(path)
        assert info.frame_count == video["frame_count"] == scene.num_frames
        assert info.duration == pytest.approx(video["duration"], abs=1e-6)
        assert (info.width, info.height) == (scene.width, scene.height)
        images = _frames(path, scene, list(range(scene.num_frames)))
        for f, image in images.items():
            for obj in scene.objects:
                st = scene.state(obj.id, f)
                if st.alpha == 0:
                    assert _seen(image, scene, obj.id, f) is None, (scene.video_id, f, obj.id)
                elif st.alpha == 1 and st.colour is not None:
                    assert _seen(image, scene, obj.id, f) == st.colour, (scene.video_id, f, obj.id)
                    assert abs(_seen_x(image, scene, obj.id) - np.floor(st.x + 0.5)) <= 1.0
                    checked += 1
    assert checked > 1000


def test_event_boundaries_are_exact_to_the_frame(world):
    """At start - 1 and start the object shows the state before the event; at end and end + 1 the
    state after it; the two differ in what the event changes."""
    kinds = set()
    for path, scene, _ in _scenes(world):
        for ev in scene.events:
            s, e = ev.start_frame, ev.end_frame
            images = _frames(path, scene, [s - 1, s, e, e + 1])
            if ev.kind == "move":
                assert ev.from_stop is not None and ev.to_stop is not None
                before, after = scene.stop_x(ev.from_stop), scene.stop_x(ev.to_stop)
                for f, want in ((s - 1, before), (s, before), (e, after), (e + 1, after)):
                    seen = _seen_x(images[f], scene, ev.object_id)
                    assert abs(seen - np.floor(want + 0.5)) <= 1.0, (ev.description, f)
            else:
                seen = {f: _seen(images[f], scene, ev.object_id, f) for f in images}
                before, after = {
                    "appear": (None, scene.state(ev.object_id, e).colour),
                    "disappear": (scene.state(ev.object_id, s).colour, None),
                    "colour": (ev.from_colour, ev.to_colour),
                    # hidden from its first frame; shown again from its last
                    "blink": (None, scene.state(ev.object_id, e).colour),
                }[ev.kind]
                if ev.kind == "blink":
                    assert seen[s - 1] is not None
                    assert seen[s] is None and seen[e] == after
                else:
                    assert seen[s - 1] == seen[s] == before, (ev.description, seen)
                    assert seen[e] == seen[e + 1] == after, (ev.description, seen)
                assert before != after
            kinds.add(ev.kind)
    assert kinds == {"appear", "disappear", "move", "colour", "blink"}


def _count_blinks(clip, scene: Scene, object_id: str, window: Window) -> int:
    """Hidden runs among the clip's frames inside ``window``, read from pixels."""
    hidden = []
    for image, t in zip(clip.frames, clip.timestamps):
        if window.start <= t <= window.end:
            f = round(t * scene.fps)
            hidden.append(_seen(image, scene, object_id, f) is None)
    return sum(1 for a, b in zip([False, *hidden], hidden) if b and not a)


def test_blinks_counted_at_the_annotated_density_not_at_1fps(world):
    blinks = 0
    for path, scene, video in _scenes(world):
        dense_fps = {t["events"][0]: t["fps"] for t in video["tasks"]}
        overview = sample(path, fps=1, budget=None, exact=True)
        for ev in (e for e in scene.events if e.kind == "blink"):
            w = ev.window
            dense = sample(
                path, Window(w.start - 0.5, w.end + 0.5), fps=dense_fps[ev.id], budget=None
            )
            assert _count_blinks(dense, scene, ev.object_id, w) == ev.count
            assert _count_blinks(overview, scene, ev.object_id, w) < ev.count
            assert 2 <= ev.rate <= 4 and ev.count >= 3
            blinks += 1
    assert blinks == 3


def test_slow_moves_span_most_of_the_video_and_end_where_the_answer_says(world):
    for path, scene, video in _scenes(world):
        slow = [t for t in video["tasks"] if t["type"] == "Spatial Perception"]
        assert slow, "every video has a slow mover"
        for task in slow:
            ev = next(e for e in scene.events if e.id == task["events"][0])
            assert ev.window.duration >= 0.5 * scene.duration and task["fps"] == 1
            last = _frames(path, scene, [scene.num_frames - 1])[scene.num_frames - 1]
            stop_x = [scene.stop_x(k) for k in range(4)]
            seen = _seen_x(last, scene, ev.object_id)
            where = int(np.argmin([abs(seen - x) for x in stop_x]))
            assert where == task["answer_index"]
            assert "slowly" in ev.description


# --- annotation files ---------------------------------------------------------------------------


def _tasks(manifest: dict, kind: str) -> list[tuple[dict, dict]]:
    return [(v, t) for v in manifest["videos"] for t in v["tasks"] if t["kind"] == kind]


def test_charades_sta_lines_match_the_manifest(world):
    out, manifest = world
    lines = (out / WORLD_FILES["charades_sta"]).read_text().splitlines()
    pattern = re.compile(r"^(\S+) (\d+\.\d\d) (\d+\.\d\d)##(.+)\.$")
    parsed = [pattern.match(line).groups() for line in lines]
    want = [
        (v["video_id"], t["windows"][0], t["question"])
        for v, t in _tasks(manifest, "moment_retrieval")
    ]
    assert [(vid, [float(s), float(e)], q) for vid, s, e, q in parsed] == want
    for video in manifest["videos"]:
        queries = [t["question"] for t in video["tasks"] if t["kind"] == "moment_retrieval"]
        assert len(set(queries)) == len(queries) == len(video["events"])


def test_nextgqa_csv_and_grounding_match_the_manifest(world):
    out, manifest = world
    with open(out / WORLD_FILES["nextgqa_qa"], newline="") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames
        rows = list(reader)
    # the header of NExT-GQA's own test.csv
    assert (
        ",".join(header)
        == "video_id,frame_count,width,height,question,answer,qid,type,a0,a1,a2,a3,a4"
    )
    gsub = json.loads((out / WORLD_FILES["nextgqa_grounding"]).read_text())
    tasks = _tasks(manifest, "grounded_qa")
    assert len(rows) == len(tasks) > 0
    for row, (video, task) in zip(rows, tasks):
        options = [row[f"a{i}"] for i in range(5)]
        assert row["answer"] == options[task["answer_index"]] == task["answer"]
        assert (row["video_id"], row["qid"], row["type"]) == (
            video["video_id"],
            task["qid"],
            task["type"],
        )
        assert int(row["frame_count"]) == video["frame_count"]
        assert (int(row["width"]), int(row["height"])) == (video["width"], video["height"])
        entry = gsub[row["video_id"]]
        assert entry["location"][row["qid"]] == task["windows"]
        assert entry["duration"] == video["duration"] and entry["fps"] == video["fps"]
        assert row["type"] in {"TN", "TP", "CH", "TC"} and len(set(options)) == 5


def test_videomme_records_match_the_manifest(world):
    out, manifest = world
    records = json.loads((out / WORLD_FILES["videomme"]).read_text())
    tasks = _tasks(manifest, "multiple_choice")
    assert len(records) == len(tasks) > 0
    columns = ["video_id", "duration", "domain", "sub_category", "url", "videoID"]
    columns += ["question_id", "task_type", "question", "options", "answer"]
    types = set()
    for record, (video, task) in zip(records, tasks):
        assert list(record) == columns
        assert record["videoID"] == video["video_id"] and (out / record["url"]).is_file()
        assert record["video_id"] == video["videomme_id"] and record["duration"] == "short"
        assert record["question_id"] == task["qid"] and record["answer"] == task["answer"]
        assert [o[:3] for o in record["options"]] == ["A. ", "B. ", "C. ", "D. "]
        assert record["answer"] == "ABCD"[task["answer_index"]]
        types.add(record["task_type"])
    assert types == {
        "Counting Problem",
        "Attribute Perception",
        "Temporal Reasoning",
        "Spatial Perception",
    }


def test_dm_rl_rows_follow_dynframe(world, dynframe_examples):
    out, manifest = world
    rows = [json.loads(line) for line in (out / WORLD_FILES["dm_rl"]).read_text().splitlines()]
    released = json.loads(
        (dynframe_examples / "dm_rl_charades_fps_grpo.jsonl").read_text().splitlines()[0]
    )
    tasks = [t for v in manifest["videos"] for t in v["tasks"]]
    assert len(rows) == len(tasks)
    head, tail = released["prompt"].split("a person opens a laptop")
    fps_by_kind: dict[str, set[int]] = {}
    for row, task in zip(rows, tasks):
        assert list(row) == list(released)
        assert (out / row["video"]).is_file() and not Path(row["video"]).is_absolute()
        assert isinstance(row["fps"], int) and 1 <= row["fps"] <= 30
        span = [min(w[0] for w in task["windows"]), max(w[1] for w in task["windows"])]
        assert [row["gt_span_start"], row["gt_span_end"]] == span
        if task["kind"] == "moment_retrieval":
            assert row["prompt"] == head + task["question"] + tail
            assert row["answer"] == f"{span[0]:.2f} - {span[1]:.2f}"
            fps_by_kind.setdefault(task["type"], set()).add(row["fps"])
        else:
            assert row["answer"] in "ABCDE" and f"({row['answer']}) " in row["prompt"]
    # dense bursts get the video's own rate, long slow moves 1 fps
    assert fps_by_kind["blink"] == {10}
    assert min(fps_by_kind["move"]) == 1 and fps_by_kind["appear"] == {4}


# --- commands and errors ------------------------------------------------------------------------


def test_cli_synth_end_to_end_and_overwrite(tmp_path, capsys):
    out = tmp_path / "w"
    args = ["synth", "--out", str(out), "--seed", "3", "--num-videos", "2"]
    args += ["--min-duration", "15", "--max-duration", "15", "--width", "160", "--height", "120"]
    assert main(args) == 0
    assert "2 videos" in capsys.readouterr().out
    manifest = json.loads((out / "world.json").read_text())
    assert all((out / rel).exists() for rel in manifest["files"].values())
    assert [p.name for p in sorted((out / "videos").iterdir())] == [
        "synth_s3_0000.mp4",
        "synth_s3_0001.mp4",
    ]
    assert main(args) == 1
    assert "not empty" in capsys.readouterr().err
    shrink = list(args)
    shrink[shrink.index("--num-videos") + 1] = "1"
    assert main([*shrink, "--force"]) == 0
    assert [p.name for p in (out / "videos").iterdir()] == ["synth_s3_0000.mp4"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--num-videos", "0"], "num_videos"),
        (["--fps", "7"], "fps must be one of"),
        (["--min-duration", "5", "--max-duration", "5"], "whole seconds"),
        (["--min-duration", "30", "--max-duration", "20"], "min <= max"),
        (["--width", "161"], "even"),
        (["--width", "40", "--height", "30"], "too small"),
        (["--min-objects", "2"], "objects per video"),
        (["--seed", "-1"], "seed"),
    ],
)
def test_cli_synth_rejects_bad_arguments_in_one_line(tmp_path, capsys, extra, message):
    assert main(["synth", "--out", str(tmp_path / "w"), *extra]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("framescope: error:") and message in err and "\n" not in err
    assert not (tmp_path / "w" / "world.json").exists()


def test_generate_world_refuses_a_file_as_folder(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(SynthError, match="not a folder"):
        generate_world(tmp_path / "f", num_videos=1, **SMALL)


def test_demo_video(tmp_path):
    path, event = demo_video(tmp_path / "a" / "demo.mp4", seed=1)
    info = probe(path)
    assert (info.width, info.height, info.frame_count) == (320, 240, 200)
    assert 0 < event.window.start < event.window.end < info.duration
    assert json.loads(json.dumps(event.to_dict()))["description"] == event.description
    assert event.kind == "move" and "moves from" in event.description
    again, same = demo_video(tmp_path / "b.mp4", seed=1)
    assert again.read_bytes() == path.read_bytes() and same == event
