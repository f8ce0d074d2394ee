"""``framescope.eval.runner`` in one process: end to end on the synthetic world with a tiny random
model, failure records, resume (partial lines, another world size's files), settings checks."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest

from framescope.config import add_arguments, given_arguments
from framescope.errors import ConfigError, EvalError, ModelError
from framescope.eval import records as rec
from framescope.eval.benchmarks import get_benchmark
from framescope.eval.config import EvalConfig, eval_config, load_eval_config
from framescope.eval.runner import load_items, run_eval, shard, spread
from framescope.methods import METHODS, Direct, InferConfig, Sample
from framescope.types import Trace

INFER = InferConfig(max_new_tokens=6, overview_max_frames=8)


@pytest.fixture(scope="module")
def backend(eval_model: Path):
    from framescope.models.hf import load_backend

    return load_backend(eval_model)


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def untimed(records: Sequence[dict]) -> list[dict]:
    return [rec.without_timing(r) for r in records]


@pytest.fixture(scope="module")
def charades(eval_world: Path, eval_model: Path, backend, tmp_path_factory) -> Path:
    """A clean direct run of the world's Charades-STA part (the reference for resume tests)."""
    out = tmp_path_factory.mktemp("charades") / "clean"
    run_charades(eval_world, eval_model, backend, out)
    return out


def run_charades(world: Path, model: Path, backend, out: Path, **kw):
    return run_eval(
        "charades_sta",
        world / "charades_sta",
        model,
        "direct",
        INFER,
        out,
        batch_size=2,
        video_dir=world / "videos",
        backend=backend,
        **kw,
    )


@pytest.mark.parametrize("method", ["dynframe", "direct"])
def test_synth_world_end_to_end(method, eval_world, eval_model, backend, tmp_path) -> None:
    limit = None if method == "dynframe" else 10  # direct: a partial run, scored on its samples
    out = tmp_path / "out"
    summary = run_eval(
        "synth", eval_world, eval_model, method, INFER, out, 4, limit, backend=backend, plots=3
    )
    _, items = load_items(get_benchmark("synth"), eval_world, None)
    items = spread(items, limit)
    records = lines(out / "predictions.jsonl")
    assert [r["id"] for r in records] == [it.id for it in items]  # one per sample, in order
    assert all(r["trace"]["method"] == method and "error" not in r for r in records)
    assert summary.samples == summary.ran == len(items) and summary.failures == {}
    metrics = json.loads((out / "metrics.json").read_text())
    tasks = {it.id.split("/")[0] for it in items}  # a partial run covers every task …
    assert len(tasks) == 3
    assert {k.split("/")[0] for k in metrics["metrics"]} == tasks
    assert "charades_sta/R1@0.5" in metrics["metrics"] and metrics["samples"] == len(items)
    assert metrics["subset"] == (limit is not None)  # … and says it is a subset
    if limit is None:
        assert {"nextgqa/Acc@GQA", "videomme/Overall"} <= set(metrics["metrics"])
    assert summary.result is not None and summary.result.metrics == metrics["metrics"]
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 3 and "charades_sta/R1@0.5" in page
    assert len(list((out / "plots").glob("*.png"))) == 3
    saved = load_eval_config(out / "config.yaml")
    assert saved.method == method and saved.infer.max_new_tokens == 6 and saved.limit == limit
    assert Path(saved.data_root).is_absolute()


def test_missing_and_corrupt_videos_are_failure_records(
    eval_world, eval_model, backend, tmp_path
) -> None:
    root = tmp_path / "charades"
    shutil.copytree(eval_world / "videos", root / "videos")
    good = (eval_world / "charades_sta" / "charades_sta_test.txt").read_text().splitlines()[:2]
    (root / "videos" / "corrupt.mp4").write_bytes(b"\x00\x01not a video" * 50)
    bad = ["missing 1.00 2.00##the red circle appears.", "corrupt 1.00 2.00##a square moves."]
    (root / "charades_sta_test.txt").write_text("\n".join([good[0], *bad, good[1]]) + "\n")
    out = tmp_path / "out"
    summary = run_eval("charades_sta", root, eval_model, "direct", INFER, out, 4, backend=backend)
    records = lines(out / "predictions.jsonl")
    assert [r["id"] for r in records] == [
        "synth_s0_0000#0",
        "missing#1",
        "corrupt#2",
        "synth_s0_0000#3",
    ]
    missing, corrupt = records[1], records[2]
    assert missing["error"].startswith("video not found: ") and missing["error"].endswith(
        "missing.mp4"
    )
    assert missing["trace"]["failure"] == rec.MISSING_VIDEO
    assert "corrupt.mp4" in corrupt["error"] and corrupt["trace"]["failure"] == rec.METHOD_FAILED
    assert "error" not in records[0] and "error" not in records[3]  # the batch went on
    assert summary.failures == {rec.MISSING_VIDEO: 1, rec.METHOD_FAILED: 1}
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["failures"] == summary.failures and metrics["counts"]["queries"] == 4
    report = (out / "report.md").read_text()
    assert "| missing video | 1 | video not found: " in report

    # the missing video turns up: --retry-failed reruns the failures only, the new record wins
    shutil.copy(root / "videos" / "synth_s0_0000.mp4", root / "videos" / "missing.mp4")
    again = run_eval("charades_sta", root, eval_model, "direct", INFER, out, 4,
                     retry_failed=True, backend=backend)  # fmt: skip
    assert again.ran == 2 and again.failures == {rec.METHOD_FAILED: 1}
    merged = lines(out / "predictions.jsonl")
    assert "error" not in merged[1] and merged[2]["error"] == corrupt["error"]
    assert len(lines(out / "predictions.rank0.jsonl")) == 6  # appended, never rewritten


class Flaky(Direct):
    """The real ``direct`` method, except that a sample whose question names 'crash' makes the
    whole call raise — a fault injected to check that one bad sample cannot sink its batch."""

    name = "flaky"

    def run(self, backend, samples: Sequence[Sample], config: InferConfig) -> list[Trace]:
        if any("crash" in s.question for s in samples):
            raise RuntimeError("injected generation failure")
        if any("unusable" in s.question for s in samples):
            raise ModelError("this checkpoint cannot run the method")
        return super().run(backend, samples, config)


def test_a_generation_error_fails_only_its_sample(
    eval_world, eval_model, backend, tmp_path, monkeypatch
) -> None:
    monkeypatch.setitem(METHODS, "flaky", Flaky())
    root = tmp_path / "charades"
    lines_ = (eval_world / "charades_sta" / "charades_sta_test.txt").read_text().splitlines()
    lines_[1] = lines_[1].split("##")[0] + "##crash here."
    root.mkdir()
    (root / "charades_sta_test.txt").write_text("\n".join(lines_[:3]) + "\n")
    out = tmp_path / "out"
    run_eval("charades_sta", root, eval_model, "flaky", INFER, out, 3, None,
             video_dir=eval_world / "videos", backend=backend)  # fmt: skip
    records = lines(out / "predictions.jsonl")
    assert [("error" in r) for r in records] == [False, True, False]
    assert records[1]["error"] == "RuntimeError: injected generation failure"
    assert records[1]["trace"]["failure"] == rec.GENERATION_ERROR
    # a setup error (the model cannot run the method) stops the run instead
    lines_[0] = lines_[0].split("##")[0] + "##unusable."
    (root / "charades_sta_test.txt").write_text("\n".join(lines_[:3]) + "\n")
    with pytest.raises(ModelError, match="cannot run the method"):
        run_eval("charades_sta", root, eval_model, "flaky", INFER, tmp_path / "out2", 3, None,
                 video_dir=eval_world / "videos", backend=backend)  # fmt: skip


def test_resume_cuts_a_partial_line_and_runs_only_what_is_missing(
    charades, eval_world, eval_model, backend, tmp_path
) -> None:
    clean = lines(charades / "predictions.jsonl")
    out = tmp_path / "out"
    out.mkdir()
    done = "".join(rec.dumps(r) for r in clean[:3])
    # a killed writer: three records on disk, the fourth cut mid-line
    (out / "predictions.rank0.jsonl").write_text(done + rec.dumps(clean[3])[:40])
    summary = run_charades(eval_world, eval_model, backend, out)
    assert summary.resumed == 3 and summary.ran == len(clean) - 3
    raw = lines(out / "predictions.rank0.jsonl")  # the partial line is gone, nothing repeated
    assert [r["id"] for r in raw] == [r["id"] for r in clean]
    assert untimed(lines(out / "predictions.jsonl")) == untimed(clean)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["metrics"] == json.loads((charades / "metrics.json").read_text())["metrics"]


def test_resume_from_another_world_size(charades, eval_world, eval_model, backend, tmp_path):
    """Files left by a killed 2-process run (rank 1 lost its last batch) are finished by one
    process: records keyed by id, nothing repeated, the result equals a clean run's."""
    clean = lines(charades / "predictions.jsonl")
    _, items = load_items(
        get_benchmark("charades_sta"), eval_world / "charades_sta", eval_world / "videos"
    )
    by_id = {r["id"]: r for r in clean}
    out = tmp_path / "out"
    out.mkdir()
    for rank in (0, 1):
        batches = shard(items, 2, rank, 2)
        kept = batches if rank == 0 else batches[:-1]
        text = "".join(rec.dumps(by_id[it.id]) for batch in kept for it in batch)
        (out / f"predictions.rank{rank}.jsonl").write_text(text)
    lost = [it.id for it in shard(items, 2, 1, 2)[-1]]
    summary = run_charades(eval_world, eval_model, backend, out)
    assert summary.ran == len(lost) and summary.world_size == 1
    assert [r["id"] for r in lines(out / "predictions.rank0.jsonl")][-len(lost) :] == lost
    assert untimed(lines(out / "predictions.jsonl")) == untimed(clean)


def test_a_folder_with_other_settings_is_refused(charades, eval_world, eval_model, backend):
    with pytest.raises(
        EvalError, match=r"infer\.max_new_tokens=6, this run has infer\.max_new_tokens=7"
    ):
        run_eval("charades_sta", eval_world / "charades_sta", eval_model, "direct",
                 InferConfig(max_new_tokens=7, overview_max_frames=8), charades,
                 video_dir=eval_world / "videos", backend=backend)  # fmt: skip


def test_shards_are_whole_batches_balanced_and_disjoint(eval_world) -> None:
    _, items = load_items(get_benchmark("synth"), eval_world, None)
    one = shard(items, 3, 0, 1)
    for world in (2, 3, 5):
        parts = [shard(items, 3, r, world) for r in range(world)]
        batches = [b for p in parts for b in p]
        assert sorted(map(id, (it for b in batches for it in b))) == sorted(map(id, items))
        assert all(b in one for b in batches)  # the batches a single process would run
        sizes = [sum(map(len, p)) for p in parts]
        assert max(sizes) - min(sizes) <= 3


def test_merge_prefers_a_record_that_ran_then_the_first(tmp_path) -> None:
    a, b = tmp_path / "predictions.rank0.jsonl", tmp_path / "predictions.rank1.jsonl"
    ok = {"id": "x", "windows": [[1, 2]]}
    failed = rec.failure_record("x", "direct", rec.GENERATION_ERROR, "boom")
    a.write_text(rec.dumps(failed) + rec.dumps({"id": "y", "windows": []}))
    b.write_text(rec.dumps(ok) + rec.dumps({"id": "y", "windows": [[5, 6]]}) + '{"id": "z"')
    merged = rec.merge(rec.record_files(tmp_path), ["x", "y", "z"])
    assert merged == {"x": ok, "y": {"id": "y", "windows": []}}  # z: unfinished line, skipped
    assert rec.recorded_ids([a, b]) == {"x", "y"}
    assert rec.recorded_ids([a], retry_failed=True) == {"y"}


def test_a_corrupt_record_line_names_file_and_line(tmp_path) -> None:
    path = tmp_path / "predictions.rank0.jsonl"
    path.write_text('{"id": "a"}\n{"id": \n{"id": "b"}\n')
    with pytest.raises(EvalError, match=r"predictions.rank0.jsonl:2: not a JSON record"):
        rec.read_records(path)


def test_config_file_types_and_keys_are_checked(tmp_path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("benchmark: synth\ndata_root: w\ninfer:\n  batch_size: two\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: infer\.batch_size must be int"):
        load_eval_config(path)
    path.write_text("benchmark: synth\ndata_root: w\ninfer:\n  batchsize: 2\n")
    with pytest.raises(ConfigError, match=r"did you mean infer\.batch_size"):
        load_eval_config(path)
    path.write_text("benchmark: synth\ndata_root: w\nbackend:\n  model: m\n")
    given = {"backend": {"model": "m2"}}
    assert load_eval_config(path, given).backend.model == "m2"  # given values win
    cfg = eval_config({"benchmark": "synth", "data_root": "w", "infer": {"sampling": {"top_k": 5}}})
    assert cfg.infer.sampling.top_k == 5 and cfg.infer.budgets == InferConfig().budgets


def test_flags_are_generated_from_the_nested_settings(tmp_path) -> None:
    """One declaration per setting: every leaf of EvalConfig is a flag with its help, the flags
    given land in their section, and the saved config reads back equal."""
    import argparse

    parser = argparse.ArgumentParser()
    keys = add_arguments(parser, EvalConfig)
    assert {"infer.budgets.max_frames", "agent.verifier_top_k", "backend.model"} <= set(keys)
    args = parser.parse_args(
        ["--data-root", "w", "--max-frames", "16", "--route", "grounder,verifier", "--top-k", "5"]
    )
    data = {"benchmark": "synth", **given_arguments(args, keys)}
    cfg = eval_config(data)
    assert cfg.infer.budgets.max_frames == 16 and cfg.infer.sampling.top_k == 5
    assert cfg.agent.route == ("grounder", "verifier")
    assert "frames per retrieval" in parser.format_help()
    cfg.save(tmp_path)
    assert load_eval_config(tmp_path / "config.yaml") == cfg
