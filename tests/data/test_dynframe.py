"""DynFrame records: DM-CoT split at its retrievals, DM-RL rows, bad rows with file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from framescope.data import (
    CoTSegment,
    DMRLRecord,
    iter_dm_cot,
    iter_dm_rl,
    read_dm_cot,
    read_dm_rl,
    split_response,
)
from framescope.data.rows import RowError
from framescope.errors import RecordError
from framescope.types import Window


def test_released_dm_cot_rows(dynframe_examples, tmp_path):
    loaded = read_dm_cot(dynframe_examples / "dm_cot_actnet_fps.json", data_root=tmp_path)
    assert len(loaded) == 3 and loaded.skipped == []
    first = loaded.records[0]
    assert first.videos == (tmp_path / "data/videos/ActivityNet/v_QOlSCBRmfWY.mp4",)
    assert first.prompt.startswith("<video>\nGive you a textual query: A young woman")
    assert first.question.startswith("Give you a textual query")
    assert [(r.window, r.fps) for r in first.requests] == [(Window(0.83, 19.86), 2.0)]
    head, tail = first.segments
    assert head.text.endswith("as she begins to dance. <span>0.83 - 19.86</span><fps>2</fps>")
    assert tail.request is None and tail.text.startswith("\n Looking at the images:")
    assert head.text + "<video>" + tail.text == first.response
    assert first.answer == "0.83 - 19.86"
    assert first.extra == {"index": 0, "gemini_suggested_fps": 2, "original_fps": 2}
    # every released row: one retrieval at the suggested density
    for rec in loaded:
        assert len(rec.requests) == 1 and rec.requests[0].fps == rec.extra["gemini_suggested_fps"]
    assert loaded.records[2].requests[0].window == Window(22.67, 179.11)


def test_released_dm_rl_rows(dynframe_examples, monkeypatch, tmp_path):
    monkeypatch.setenv("FRAMESCOPE_DATA", str(tmp_path))
    recs = list(iter_dm_rl(dynframe_examples / "dm_rl_charades_fps_grpo.jsonl"))
    assert recs[0] == DMRLRecord(
        prompt=(
            "<video>\nGive you a textual query: a person opens a laptop\nWhen does the described "
            "content occur in the video?\nPlease return the timestamp in seconds."
        ),
        video=tmp_path / "data/videos/charades_sta/MLBTH.mp4",
        answer="0.00 - 8.00",
        fps=3,
        gt_span_start=0.0,
        gt_span_end=8.0,
    )
    assert [r.gt_span for r in recs[1:]] == [Window(0.0, 11.1), Window(5.9, 15.4)]
    assert not any(r.is_choice for r in recs)


def test_split_tolerates_dynframe_spellings_and_several_retrievals():
    text = (
        "<think>wide first <span> 0 -30.5 </span><fps>0.5</fps><video>then dense"
        "<span>12.25-14</span> <fps> 4 </fps>  <video>\nso</think><answer>B</answer>"
    )
    segs = split_response(text)
    assert [s.request.window if s.request else None for s in segs] == [
        Window(0.0, 30.5),
        Window(12.25, 14.0),
        None,
    ]
    assert [s.request.fps for s in segs[:2]] == [0.5, 4.0]
    assert segs[0].text == "<think>wide first <span> 0 -30.5 </span><fps>0.5</fps>"
    assert segs[1].text == "then dense<span>12.25-14</span> <fps> 4 </fps>"
    assert segs[2] == CoTSegment("\nso</think><answer>B</answer>")
    assert split_response("<think>no look</think><answer>A</answer>") == (
        CoTSegment("<think>no look</think><answer>A</answer>"),
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("look <video> at it", "does not follow a request"),
        ("<span>5 - 2</span><fps>2</fps><video>", "reversed"),
        ("<span>2 - 2</span><fps>2</fps><video>", "empty"),
        ("<span>1 - 2</span><fps>0</fps><video>", "fps must be positive"),
        ("<span>a - b</span><fps>1</fps><video>", "cannot read a window"),
        ("<span>1 - 2</span><fps>1</fps> and no clip", "every request must be answered"),
        ("<span>1 - 2</span><fps>1</fps><video> then <span>3 - 4</span>", "2 <span> tag"),
    ],
)
def test_split_rejects_requests_the_runtime_would_not_answer(text, reason):
    with pytest.raises(RowError, match=reason):
        split_response(text)


def _cot(value: str, videos=("v.mp4",), human="<video>\nq") -> dict:
    return {
        "video": list(videos),
        "conversations": [{"from": "human", "value": human}, {"from": "gpt", "value": value}],
    }


def test_bad_dm_cot_rows_name_file_and_line_or_are_skipped(tmp_path):
    good = _cot("<think><span>1 - 2</span><fps>2</fps><video>x</think><answer>A</answer>")
    bad = [
        _cot("<span>3 - 1</span><fps>2</fps><video>"),
        _cot("fine", human="no tag"),
        {"video": [], "conversations": []},
        {**good, "conversations": good["conversations"][::-1]},
    ]
    p = tmp_path / "cot.json"
    p.write_text(json.dumps([good, *bad, good], indent=1))
    starts = [n for n, t in enumerate(p.read_text().splitlines(), 1) if t == " {"]
    with pytest.raises(RecordError) as info:
        read_dm_cot(p)
    assert info.value.line == starts[1] and "retrieval 1: span 3 - 1 is empty or reversed" in str(
        info.value
    )
    loaded = read_dm_cot(p, skip_bad_rows=True)
    assert len(loaded.records) == 2 and loaded.records[0].videos == (Path("v.mp4"),)
    reasons = [b.reason for b in loaded.skipped]
    assert reasons[1] == "the human turn has 0 <video> tag(s) for 1 video(s)"
    assert reasons[2] == "'video' must be a non-empty list of paths"
    assert reasons[3] == "expected one human and one gpt turn, got ['gpt', 'human']"
    assert [b.line for b in loaded.skipped] == starts[1:5]
    assert list(iter_dm_cot(p, skipped=[])) == loaded.records


def test_bad_dm_rl_rows(tmp_path):
    row = {
        "prompt": "<video>\nq",
        "video": "a.mp4",
        "answer": "b",
        "fps": 2,
        "gt_span_start": 1,
        "gt_span_end": 3,
        "source": "x",
    }
    variants = [
        {**row, "fps": 0},
        {**row, "gt_span_end": 0.5},
        {k: v for k, v in row.items() if k != "answer"},
        {**row, "video": 3},
    ]
    p = tmp_path / "rl.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in [row, *variants]) + "\n")
    loaded = read_dm_rl(p, skip_bad_rows=True, data_root="root")
    (rec,) = loaded.records
    assert rec.video == Path("root/a.mp4") and rec.extra == {"source": "x"} and rec.is_choice
    assert rec.gt_span == Window(1.0, 3.0) and rec.question == "q"
    assert [(b.line, b.reason) for b in loaded.skipped] == [
        (2, "'fps' must be positive, got 0"),
        (3, "ground-truth span 1 - 0.5 is empty or reversed"),
        (4, "missing 'answer'"),
        (5, "'video' must be a string, got int"),
    ]
    with pytest.raises(RecordError, match=r"rl.jsonl:2: 'fps' must be positive"):
        read_dm_rl(p)
