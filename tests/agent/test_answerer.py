"""The Answerer: the clip (top moment widened, or the whole video), the MCQ prompt with its
``Best Option: (`` prefill, the .srt reader and subtitles restricted to the clip."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from framescope.agent.agent import VideoMindAgent
from framescope.agent.answerer import MCQ_PREFILL, answer_prompt, answer_window
from framescope.errors import FramescopeError
from framescope.methods import InferConfig, Sample
from framescope.subtitles import Cue, clip_lines, parse_srt, read_srt
from framescope.types import Window

from .conftest import FAST

W = Window


def test_answer_window_by_hand() -> None:
    assert answer_window(W(20, 22), 100) == W(5, 37)  # widened to 32 s around 21
    assert answer_window(W(2, 4), 100) == W(0, 32)  # centre moved inside the video
    assert answer_window(W(90, 99), 100) == W(68, 100)
    assert answer_window(W(10, 60), 100) == W(10, 60)  # long enough already
    assert answer_window(None, 100) == W(0, 100)  # nothing grounded: the whole video
    assert answer_window(W(3, 5), 20) == W(0, 20)  # video shorter than the minimum
    assert answer_window(W(40, 41), 100, min_len=4) == W(38.5, 42.5)
    assert answer_window(W(40, 41), 100, min_ratio=0.1) == W(35.5, 45.5)  # 10 % of the video


def test_mcq_prompt_and_prefill() -> None:
    text, prefill = answer_prompt("What moves?", ["the red circle", "a blue square", ""])
    assert text == (
        "What moves?\nOptions:\n(A) The red circle\n(B) A blue square\n(C) \n"
        "Please only give the best option."
    )
    assert prefill == MCQ_PREFILL == "Best Option: ("
    assert answer_prompt("Why?") == ("Why?", "")
    text, _ = answer_prompt("Why?", ["x"], ["0.0s - 1.5s, hello"], clip_seconds=32.04)
    assert text == (
        "You are given a video with 32.0 seconds long.\nSubtitles:\n0.0s - 1.5s, hello\n"
        "Why?\nOptions:\n(A) X\nPlease only give the best option."
    )
    text, _ = answer_prompt("Why?", subtitles=[], clip_seconds=8)  # a file, no cue in the clip
    assert text == "You are given a video with 8 seconds long.\nSubtitles:\nWhy?"


SRT = """\ufeff1\r
00:00:01,000 --> 00:00:02,500\r
Hello <i>there</i>\r
second line\r
\r
2\r
00:00:03.2 --> 00:00:04,000\r
{\\an8}dot and one digit\r
\r
this block is noise\r
\r
4\r
00:00:09,000 --> 00:00:05,000\r
ends before it starts\r
\r
5\r
00:00:10,000 --> 00:00:12,000\r
\r
6\r
1:02:03,004 --> 1:02:04,000\r
late
"""


def test_srt_parser_is_total() -> None:
    subs = parse_srt(SRT)
    assert subs.cues == (
        Cue(1.0, 2.5, "Hello there second line"),
        Cue(3.2, 4.0, "dot and one digit"),
        Cue(3723.004, 3724.0, "late"),
    )
    assert subs.skipped == 3  # the noise block, the reversed cue, the cue without text
    for junk in ("", "\n\n\n", "-->", "1\n00:00 --> 00:01\nx", "\x00" * 10, "9" * 5000):
        assert parse_srt(junk).cues == ()
    assert parse_srt("00:00:01,000 --> 00:00:02,000\nno index line").cues == (
        Cue(1.0, 2.0, "no index line"),
    )


def test_clip_lines_keep_cues_inside_the_clip() -> None:
    cues = [Cue(1.0, 2.0, "before"), Cue(9.0, 11.0, "straddles"), Cue(10.0, 12.25, "in")]
    cues.append(Cue(40.0, 41.0, "x"))
    assert clip_lines(cues, W(10.0, 42.0)) == ["0.0s - 2.2s, in", "30.0s - 31.0s, x"]
    many = [Cue(float(k), k + 0.5, str(k)) for k in range(300)]
    assert len(clip_lines(many, W(0.0, 300.0))) == 100


def test_answerer_prefill_and_subtitles_in_the_agent(
    backend: Any, video: tuple, tmp_path: Path
) -> None:
    srt = tmp_path / "demo.srt"
    srt.write_text(
        "1\n00:00:00,500 --> 00:00:01,500\nearly line\n\n"
        "2\n00:00:30,000 --> 00:00:31,000\nafter the video\n"
    )
    samples = [
        Sample("mcq", str(video[0]), "What moves?", ("red", "blue"), subtitles=str(srt)),
        Sample("open", str(video[0]), "What moves?"),
    ]
    agent = VideoMindAgent(replace(FAST, route=("answerer",)))
    mcq, open_ = agent.run(backend, samples, InferConfig(max_new_tokens=2))
    (step,) = mcq.steps
    assert step.role == "answerer" and step.adapter is None
    assert step.forced == "Best Option: (" and mcq.response.startswith("Best Option: (")
    assert step.prompt.startswith(
        f"You are given a video with {round(mcq.duration, 1)} seconds long.\nSubtitles:\n"
        "0.5s - 1.5s, early line\nWhat moves?\nOptions:\n(A) Red\n(B) Blue\n"
    )
    assert step.evidence is not None and step.evidence.window == W(0.0, mcq.duration)
    assert step.evidence.frames == FAST.answer_max_frames
    assert open_.steps[0].forced == "" and open_.steps[0].prompt == "What moves?"
    assert mcq.answer.windows == () and open_.answer.letter is None
    # the loop's Sample.prefill is the same mechanism and wins over the MCQ prefill
    (forced,) = agent.run(
        backend,
        [Sample("p", str(video[0]), "What moves?", ("red", "blue"), prefill="Best Option: (B)")],
        InferConfig(max_new_tokens=1),
    )
    assert forced.steps[0].forced == "Best Option: (B)" and forced.answer.letter == "B"


def test_missing_subtitles_fail_the_sample_only(backend: Any, video: tuple) -> None:
    agent = VideoMindAgent(replace(FAST, route=("answerer",)))
    bad, good = agent.run(
        backend,
        [
            Sample("bad", str(video[0]), "q", subtitles="/nowhere/x.srt"),
            Sample("good", str(video[0]), "q"),
        ],
        InferConfig(max_new_tokens=1),
    )
    assert bad.error is not None and "cannot read the subtitles" in bad.error
    assert good.error is None and good.steps[0].role == "answerer"
    with pytest.raises(FramescopeError, match=r"x\.srt"):
        read_srt("/nowhere/x.srt")
