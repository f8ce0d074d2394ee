"""The synthetic world's training files read back into records equal to world.json's ground truth."""

from __future__ import annotations

from framescope.data import (
    GrounderRecord,
    read_dm_cot,
    read_dm_rl,
    read_grounder,
    read_planner,
)
from framescope.synth import WORLD_FILES
from framescope.types import LETTERS, Window


def _tasks(manifest: dict) -> list[tuple[dict, dict]]:
    return [(v, t) for v in manifest["videos"] for t in v["tasks"]]


def _span(task: dict) -> Window:
    return Window(min(w[0] for w in task["windows"]), max(w[1] for w in task["windows"]))


def _answer(task: dict) -> str:
    if task["kind"] == "moment_retrieval":
        s = _span(task)
        return f"{s.start:.2f} - {s.end:.2f}"
    return LETTERS[task["answer_index"]]


def test_dm_cot_rows_retrieve_the_evidence_at_its_density_and_answer(world):
    out, manifest = world
    loaded = read_dm_cot(out / WORLD_FILES["dm_cot"], data_root=out)
    tasks = _tasks(manifest)
    assert len(loaded.records) == len(tasks) and not loaded.skipped
    for rec, (video, task) in zip(loaded.records, tasks):
        assert rec.videos == (out / video["path"],) and rec.extra["task_id"] == task["task_id"]
        (req,) = rec.requests
        assert (req.window, req.fps) == (_span(task), task["fps"])
        assert rec.answer == _answer(task)
        events = {e["id"]: e for e in video["events"]}
        for eid in task["events"]:  # what the clip shows, at its exact times
            e = events[eid]
            assert (
                f"from {e['start']:.2f} s to {e['end']:.2f} s, {e['description']}" in rec.response
            )
            if e["kind"] == "blink":
                assert f"{e['description']} {e['count']} times" in rec.response
        if task["kind"] != "moment_retrieval":
            option = task["options"][task["answer_index"]].rstrip(".")
            assert f"So the answer is ({rec.answer}) {option}." in rec.segments[-1].text


def test_dm_cot_and_dm_rl_rows_pair_up(world):
    out, manifest = world
    cot = read_dm_cot(out / WORLD_FILES["dm_cot"], data_root=out).records
    rl = read_dm_rl(out / WORLD_FILES["dm_rl"], data_root=out).records
    for c, r, (_, task) in zip(cot, rl, _tasks(manifest), strict=True):
        assert c.prompt == r.prompt and c.video == r.video and c.answer == r.answer
        assert (r.gt_span, r.fps) == (_span(task), task["fps"])
        assert r.is_choice == (task["kind"] != "moment_retrieval")


def test_grounder_rows_are_the_moment_retrieval_tasks(world):
    out, manifest = world
    expected = [
        GrounderRecord(
            out / v["path"],
            t["question"],
            tuple(Window(*w) for w in t["windows"]),
            v["duration"],
        )
        for v, t in _tasks(manifest)
        if t["kind"] == "moment_retrieval"
    ]
    assert read_grounder(out / WORLD_FILES["grounder"], data_root=out).records == expected


def test_planner_rows_cover_the_four_routes(world):
    out, manifest = world
    recs = read_planner(out / WORLD_FILES["planner"], data_root=out).records
    tasks = _tasks(manifest)
    assert len(recs) == len(tasks)
    for rec, (video, task) in zip(recs, tasks):
        descriptions = {e["id"]: e["description"] for e in video["events"]}
        evidence = "; ".join(descriptions[i] for i in task["events"])
        assert rec.video == out / video["path"] and rec.duration == video["duration"]
        if task["kind"] == "moment_retrieval":
            assert (rec.route, rec.query) == (3, task["question"])
        elif task["kind"] == "grounded_qa":
            assert (rec.route, rec.query) == (1, evidence)
            assert rec.question == task["question"] + "?"
        else:
            whole_video = task["type"] in ("Temporal Reasoning", "Spatial Perception")
            assert (rec.route, rec.query) == ((4 if whole_video else 2), None)
            assert rec.question == task["question"]
    routes = [r.route for r in recs]
    assert set(routes) == {1, 2, 3, 4}
    per_video = {}
    for rec in recs:
        per_video.setdefault(rec.video, set()).add(rec.route)
    assert all(r >= {1, 2, 3, 4} for r in per_video.values())  # every video has all four
