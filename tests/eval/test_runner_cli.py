"""``framescope eval`` as a command: two shards under torchrun (gloo, CPU) equal one process, a
SIGKILLed run resumes without loss or duplicates, bad input is one line and exit code 1."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from framescope.cli import main
from framescope.eval import records as rec


def eval_args(world: Path, model: Path, out: Path) -> list[str]:
    return [
        *("eval", "charades_sta", "--data-root", str(world / "charades_sta")),
        *("--video-dir", str(world / "videos"), "--model", str(model), "--method", "direct"),
        *("--out", str(out), "--max-new-tokens", "6", "--overview-max-frames", "8"),
        *("--batch-size", "2"),
    ]


def records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def untimed(path: Path) -> list[dict]:
    return [rec.without_timing(r) for r in records(path)]


def metrics(out: Path) -> dict:
    payload = json.loads((out / "metrics.json").read_text())
    payload.pop("predictions")  # the file's path
    return payload


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def clean(eval_world: Path, eval_model: Path, tmp_path_factory) -> Path:
    """One uninterrupted single-process run: the reference."""
    out = tmp_path_factory.mktemp("cli") / "clean"
    assert main(eval_args(eval_world, eval_model, out)) == 0
    return out


def test_two_shards_under_torchrun_equal_one_process(
    clean, eval_world, eval_model, tmp_path, capsys
) -> None:
    out = tmp_path / "two"
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]
    command += ["--master_port", str(free_port()), "-m", "framescope.cli"]
    proc = subprocess.Popen(
        [*command, *eval_args(eval_world, eval_model, out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # torchrun and both workers in one group, killed together
    )
    try:
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, stderr[-3000:]
    assert "this run (rank 0 of 2)" in stdout and stdout.count("R1@0.5") == 1
    shards = [{r["id"] for r in records(out / f"predictions.rank{k}.jsonl")} for k in (0, 1)]
    assert shards[0] and shards[1] and not shards[0] & shards[1]
    assert untimed(out / "predictions.jsonl") == untimed(clean / "predictions.jsonl")
    assert metrics(out) == metrics(clean)

    # rank 1 lost its last record (killed): one process finishes the two-process folder
    path = out / "predictions.rank1.jsonl"
    kept = path.read_text().splitlines(keepends=True)
    path.write_text("".join(kept[:-1]))
    (out / "predictions.jsonl").unlink()
    capsys.readouterr()
    assert main(eval_args(eval_world, eval_model, out)) == 0
    assert "1 run, " in capsys.readouterr().out
    assert [r["id"] for r in records(out / "predictions.rank0.jsonl")][-1] == json.loads(kept[-1])[
        "id"
    ]
    assert untimed(out / "predictions.jsonl") == untimed(clean / "predictions.jsonl")
    assert metrics(out) == metrics(clean)


def test_sigkill_then_resume_loses_nothing_and_repeats_nothing(
    clean, eval_world, eval_model, tmp_path
) -> None:
    out = tmp_path / "killed"
    shard = out / "predictions.rank0.jsonl"
    command = [sys.executable, "-m", "framescope.cli", *eval_args(eval_world, eval_model, out)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while not (shard.is_file() and shard.read_text().count("\n") >= 2):
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == -signal.SIGKILL
    total = len(records(clean / "predictions.jsonl"))
    flushed = rec.read_records(shard)  # every complete line is a whole record
    assert 2 <= len(flushed) < total and not (out / "predictions.jsonl").exists()

    assert main(eval_args(eval_world, eval_model, out)) == 0
    ids = [r["id"] for r in records(shard)]
    assert len(ids) == len(set(ids)) == total  # no duplicates, nothing lost
    assert [rec.without_timing(r) for r in records(shard)[: len(flushed)]] == [
        rec.without_timing(r) for r in flushed
    ]
    assert untimed(out / "predictions.jsonl") == untimed(clean / "predictions.jsonl")
    assert metrics(out) == metrics(clean)


@pytest.mark.parametrize(
    "case", ["malformed", "no annotations", "no videos", "no data root", "method", "no model"]
)
def test_bad_input_is_one_line_and_exit_1(case, eval_world, eval_model, tmp_path, capsys) -> None:
    root = tmp_path / "root"
    root.mkdir()
    args = eval_args(eval_world, eval_model, tmp_path / "out")
    args[3] = str(root)  # --data-root
    good = (eval_world / "charades_sta" / "charades_sta_test.txt").read_text()
    if case == "malformed":
        bad = good.splitlines()
        bad[2] = "synth_s0_0000 1.0##no end time"
        (root / "charades_sta_test.txt").write_text("\n".join(bad) + "\n")
        expected = f"{root / 'charades_sta_test.txt'}:3: expected '<video_id> <start> <end>##"
    elif case == "no annotations":
        expected = f"charades_sta: expected the Charades-STA query file, lines '<video_id> <start> <end>##<sentence>' (charades_sta_test.txt); not found in {root}"
    elif case == "no videos":
        (root / "charades_sta_test.txt").write_text(good)
        args = [a for a in args if a != "--video-dir" and a != str(eval_world / "videos")]
        expected = f"expected the videos in {root}/Charades_v1_480/ or {root}/videos/"
    elif case == "no data root":
        args[3] = str(tmp_path / "nowhere")
        expected = (
            f"data root {tmp_path / 'nowhere'} is not a folder (expected charades_sta_test.txt"
        )
    elif case == "method":
        (root / "charades_sta_test.txt").write_text(good)
        args[args.index("--method") + 1] = "nope"
        expected = "unknown method 'nope'"
    else:  # no --model: the shipped default, which must exist
        from framescope.models.default import default_root

        if (default_root() / "dynframe" / "config.json").is_file():
            pytest.skip("the default model is installed: no --model runs it")
        i = args.index("--model")
        del args[i : i + 2]
        expected = "the default model is not installed"
    assert main(args) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1, captured.err
    assert captured.err.startswith("framescope: error: ") and expected in captured.err
    assert not os.path.exists(tmp_path / "out" / "predictions.jsonl")
