"""``framescope infer``: output, trace file, one-line errors (the demo: tests/test_demo.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from framescope.cli import main
from framescope.types import Trace


def test_infer_prints_answer_evidence_and_budget(
    model_dirs: dict, demo: tuple, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    video, _ = demo
    out = tmp_path / "t" / "trace.json"
    argv = ["infer", str(video), "--question", "When?", "--model", str(model_dirs["qwen3_vl"])]
    argv += ["--prefill", "<span>2 - 4</span><fps>2</fps>", "--max-new-tokens", "5"]
    assert main([*argv, "--trace", str(out), "--options", "red", "blue"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("answer")
    evidence = next(line for line in lines if line.startswith("evidence 1: 2.00–4.00 s"))
    assert "4 frames" in evidence and evidence.endswith("[prefilled]")
    budget = next(line for line in lines if line.startswith("budget: "))
    assert budget.startswith("budget: 1/3 retrievals, 0 rejected, ") and "5 generated" in budget
    trace = Trace.from_dict(json.loads(out.read_text()))
    assert trace.options == ("red", "blue") and trace.usage.generated_tokens == 5
    assert main([*argv, "--method", "direct"]) == 0
    assert "budget: no retrieval, 0 rejected" in capsys.readouterr().out


@pytest.mark.parametrize("case", ["no model folder", "unsupported", "bad video", "empty question"])
def test_bad_input_is_one_line_and_exit_1(
    case: str, model_dirs: dict, demo: tuple, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    video, model, question = str(demo[0]), str(model_dirs["qwen2_vl"]), "What happens?"
    if case == "no model folder":
        model = str(tmp_path / "nowhere")
    elif case == "unsupported":
        (tmp_path / "config.json").write_text(json.dumps({"model_type": "llava"}))
        model = str(tmp_path)
    elif case == "bad video":
        video = str(tmp_path / "clip.mp4")
        Path(video).write_bytes(b"\x00" * 100)
    else:
        question = "   "
    assert main(["infer", video, "--question", question, "--model", model]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1
    expected = {
        "no model folder": "no such model folder",
        "unsupported": "unsupported model type 'llava'",
        "bad video": "clip.mp4",
        "empty question": "the question is empty",
    }[case]
    assert captured.err.startswith("framescope: error: ") and expected in captured.err


@pytest.mark.parametrize("case", ["missing video", "no model folder", "plain model as videomind"])
def test_bad_arguments_fail_before_the_model_runtime_is_imported(
    case: str, model_dirs: dict, demo: tuple, tmp_path: Path
) -> None:
    """Cheap checks come first: the error is printed before torch is even imported."""
    import subprocess
    import sys

    video, model, extra = str(demo[0]), str(model_dirs["qwen3_vl"]), []
    if case == "missing video":
        video = str(tmp_path / "missing.mp4")
    elif case == "no model folder":
        model = str(tmp_path / "nowhere")
    else:
        extra = ["--method", "videomind"]
    argv = ["infer", video, "--question", "When?", "--model", model, *extra]
    code = (
        "import sys; from framescope.cli import main; rc = main(sys.argv[1:]); "
        "print(rc, 'torch' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=120
    )
    assert done.stdout.split() == ["1", "False"], done.stdout + done.stderr
    expected = {
        "missing video": "missing.mp4: no such file",
        "no model folder": "no such model folder",
        "plain model as videomind": "train one with `framescope train sft",
    }[case]
    assert expected in done.stderr and len(done.stderr.strip().splitlines()) == 1
