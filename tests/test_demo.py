"""``framescope demo`` and ``infer`` without ``--model``: the trained default model answers
synthetic questions it has never seen. Deterministic (greedy decoding, a fixed demo world);
random weights cannot pass: they write no well-formed answer, let alone the right one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from framescope.cli import main
from framescope.models.default import default_root

INSTALLED = (default_root() / "dynframe" / "config.json").is_file()
needs_default = pytest.mark.skipif(not INSTALLED, reason="the default model is not installed")


@pytest.mark.skipif(INSTALLED, reason="the default model is installed")
def test_without_the_default_model_the_demo_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--out", str(tmp_path / "demo")]) == 1
    assert "the default model is not installed" in capsys.readouterr().err


@needs_default
def test_demo_answers_with_the_trained_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--out", str(tmp_path / "demo"), "--seed", "0"]) == 0
    out = capsys.readouterr().out
    report = json.loads((tmp_path / "demo" / "report.json").read_text())
    kinds = {a["kind"] for a in report["answers"]}
    assert {"counting", "grounding", "multiple choice"} <= kinds
    assert f"{report['right']} of {report['asked']} right" in out
    # the fixed question: the demo world's blink count, answered right from a dense retrieval
    (count,) = [a for a in report["answers"] if a["kind"] == "counting"]
    assert count["right"] and count["trace"]["evidence"]
    assert report["right"] >= report["asked"] // 2
    assert (tmp_path / "demo" / "overview.png").is_file()


@needs_default
def test_infer_without_model_uses_the_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from framescope.video.synth import generate_world

    world = tmp_path / "world"
    generate_world(world, seed=10_000_000, num_videos=1, duration=(16, 24))
    video = next((world / "videos").glob("*.mp4"))
    question = json.loads((world / "world.json").read_text())["videos"][0]["tasks"][0]
    assert question["kind"] == "moment_retrieval"
    prompt = (
        f"Give you a textual query: {question['question']}\n"
        "When does the described content occur in the video?\n"
        "Please return the timestamp in seconds."
    )
    assert main(["infer", str(video), "--question", prompt]) == 0
    out = capsys.readouterr().out
    assert out.startswith("answer: ") and "evidence 1:" in out
