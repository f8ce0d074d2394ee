"""``framescope train`` is honest and loses nothing: a step count < 1 is refused, a fresh run never
writes into another run's folder (``--overwrite`` replaces it, ``--resume`` continues it), the
summary counts the steps it ran, a job without a terminal still logs progress, and a run killed
at any moment (mid-checkpoint included) resumes without a lost, repeated or half-written step."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from framescope.cli import main
from framescope.errors import ConfigError
from framescope.train.checkpoint import find_checkpoint
from framescope.train.runtime import read_metrics
from framescope.train.sft import train_sft

from .conftest import recipe


def _config(world: Path, bases: dict[str, Path], tmp_path: Path, steps: int = 3) -> Path:
    cfg = recipe(
        "dynframe_sft", world, bases["qwen2_vl"], tmp_path / "run", "model.family=qwen2_vl",
        f"optim.max_steps={steps}", "data.max_rows=4", "save_steps=1",
    )  # fmt: skip
    path = tmp_path / "recipe.yaml"
    cfg.save_resolved(path)
    return path


def test_stop_after_below_one_is_refused_and_nothing_is_touched(
    world: Path, bases: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(world, bases, tmp_path)
    assert main(["train", "sft", "--config", str(config), "--stop-after", "2"]) == 0
    before = (tmp_path / "run" / "metrics.jsonl").read_text()
    for bad in ("-1", "0"):
        with pytest.raises(SystemExit) as exit_:
            main(["train", "sft", "--resume", str(tmp_path / "run"), "--stop-after", bad])
        assert exit_.value.code == 2 and "must be >= 1" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="stop_after must be a step >= 1"):
        train_sft(recipe("dynframe_sft", world, bases["qwen2_vl"], tmp_path / "x"), stop_after=0)
    assert (tmp_path / "run" / "metrics.jsonl").read_text() == before  # metrics kept
    assert not (tmp_path / "x").exists()  # refused before any work


def test_a_fresh_run_refuses_a_used_folder(
    world: Path, bases: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(world, bases, tmp_path, steps=2)
    assert main(["train", "sft", "--config", str(config)]) == 0
    first = capsys.readouterr().out
    assert "sft: 2 steps of 2 in" in first  # the steps run, of the schedule
    assert main(["train", "sft", "--config", str(config)]) == 1
    assert "is not empty" in capsys.readouterr().err
    assert [r["step"] for r in read_metrics(tmp_path / "run")] == [1, 2]  # untouched
    (tmp_path / "run" / "checkpoint-9").mkdir()  # another run's leftover
    assert main(["train", "sft", "--config", str(config), "--overwrite"]) == 0
    assert sorted(p.name for p in (tmp_path / "run").glob("checkpoint-*")) == [
        "checkpoint-1",
        "checkpoint-2",
    ]


def test_summary_counts_the_steps_run_and_logs_without_a_terminal(
    world: Path, bases: dict[str, Path], tmp_path: Path
) -> None:
    config = _config(world, bases, tmp_path, steps=3)
    cmd = [sys.executable, "-m", "framescope.cli", "train", "sft", "--config", str(config)]
    done = subprocess.run(
        [*cmd, "--stop-after", "2"], capture_output=True, text=True, timeout=600
    )  # stderr is a pipe here: no progress bar, progress lines instead
    assert done.returncode == 0, done.stderr
    assert "sft: 2 steps of 3 in" in done.stdout and "1 left: --resume" in done.stdout
    assert "train: step 1/3" in done.stderr and "train: step 2/3" in done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "framescope.cli", "train", "sft", "--resume", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0 and "sft: steps 3-3 of 3 in" in done.stdout


@pytest.mark.parametrize("moment", ["mid-checkpoint", "mid-run"])
def test_killed_runs_resume_without_loss_or_repeats(
    moment: str, world: Path, bases: dict[str, Path], tmp_path: Path
) -> None:
    config = _config(world, bases, tmp_path, steps=4)
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "framescope.cli", "train", "sft", "--config", str(config)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600

    def seen(pattern: str) -> bool:
        return any(run.glob(pattern))

    # after the first checkpoint landed; mid-checkpoint: while a later one is assembled aside
    # (``.checkpoint-N.tmp``; if the poll misses that moment, right after the next one lands)
    while time.monotonic() < deadline and proc.poll() is None and not seen("checkpoint-1"):
        time.sleep(0.01)
    while moment == "mid-checkpoint" and proc.poll() is None and time.monotonic() < deadline:
        if seen(".checkpoint-*") or seen("checkpoint-2"):
            break
        time.sleep(0.002)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    if moment == "mid-checkpoint":  # what a kill inside save_checkpoint leaves behind
        (run / ".checkpoint-3.tmp" / "rng").mkdir(parents=True, exist_ok=True)
    last = find_checkpoint(run)
    assert not last.name.startswith(".")  # only complete checkpoints are ever resumed
    resume = [sys.executable, "-m", "framescope.cli", "train", "sft", "--resume", str(run)]
    assert subprocess.run(resume, capture_output=True, timeout=600).returncode == 0
    assert [r["step"] for r in read_metrics(run)] == [1, 2, 3, 4]  # none lost, none twice
    assert (run / "checkpoint-4" / "trainable.safetensors").is_file()
