"""``framescope infer --method videomind`` end to end on a synthetic video with the tiny checkpoint in
the released layout: ranked moments and the answer printed, the trace written, --base-model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from framescope.cli import main
from framescope.types import Trace


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_infer_videomind_prints_moments_and_answer(
    ckpts: Any, video: tuple, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace_path = tmp_path / "trace.json"
    argv = ["infer", str(video[0]), "--question", "When does the square move?"]
    argv += ["--model", str(ckpts.released.ckpt), "--method", "videomind", "--force-reg"]
    argv += ["--max-new-tokens", "3", "--options", "early", "late", "--trace", str(trace_path)]
    code, out, err = run(argv, capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("answer")
    assert lines[1] == "route: grounder → verifier → answerer"
    assert lines[2] == "moments (start, end, score):"
    trace = Trace.from_dict(json.loads(trace_path.read_text()))
    for k, (w, score) in enumerate(zip(trace.answer.windows, trace.answer.scores), 1):
        assert lines[2 + k] == f"  {k}. {w.start:.2f} {w.end:.2f} {score:.4f}"
    assert len(trace.answer.windows) == 5 and trace.options == ("early", "late")
    assert sum(line.startswith("verifier (verifier, ") for line in lines) == 5
    assert any(line.startswith("answerer (base model, ") for line in lines)
    assert lines[-2].startswith("usage: 7 role calls") and lines[-1] == f"trace: {trace_path}"
    assert trace.steps[-1].forced == "Best Option: ("


def test_base_model_override_and_role_subset(
    ckpts: Any, video: tuple, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    moved = tmp_path / "VideoMind-2B"
    shutil.copytree(ckpts.released.ckpt, moved)
    config = json.loads((moved / "config.json").read_text())
    config["base_model_path"] = "model_zoo/Qwen2-VL-2B-Instruct"  # as released: not here
    (moved / "config.json").write_text(json.dumps(config))
    argv = ["infer", str(video[0]), "--question", "q", "--model", str(moved)]
    argv += ["--method", "videomind", "--max-new-tokens", "2"]
    code, out, err = run(argv, capsys)
    assert code == 1 and out == "" and len(err.strip().splitlines()) == 1
    assert "--base-model" in err
    code, out, err = run(
        [*argv, "--base-model", str(ckpts.released.base), "--roles", "grounder"], capsys
    )
    assert code == 0, err
    assert "route: grounder → answerer" in out and "fitted to the loaded roles" in out


@pytest.mark.parametrize("case", ["base model on a plain model", "plan without planner"])
def test_bad_videomind_input_is_one_line(
    case: str, ckpts: Any, video: tuple, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["infer", str(video[0]), "--question", "q", "--max-new-tokens", "1"]
    if case == "base model on a plain model":
        argv += ["--model", str(ckpts.released.base), "--base-model", str(ckpts.released.base)]
        expected = "apply to VideoMind checkpoints"
    else:
        argv += ["--model", str(ckpts.released.ckpt), "--method", "videomind", "--planner"]
        argv += ["--roles", "grounder", "verifier"]
        expected = "planning needs the planner role"
    code, out, err = run(argv, capsys)
    assert code == 1 and out == "" and len(err.strip().splitlines()) == 1
    assert err.startswith("framescope: error: ") and expected in err
