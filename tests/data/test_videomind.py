"""VideoMind role records: grounder and planner rows, verifier data from a grounder's predictions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from framescope.data import (
    GrounderRecord,
    PlannerRecord,
    read_grounder,
    read_planner,
    read_verifier,
    verifier_records,
)
from framescope.errors import RecordError
from framescope.types import Window


def _jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_grounder_rows_one_or_several_spans(tmp_path):
    p = _jsonl(
        tmp_path / "g.jsonl",
        [
            {"video_path": "a.mp4", "duration": 30, "query": "q1", "span": [2, 4.5]},
            {"video_path": "b.mp4", "query": "q2", "span": [[1, 2], [5, 7]]},
            {"video_path": "c.mp4", "query": "q3", "span": []},
            {"video_path": "c.mp4", "query": "", "span": [1, 2]},
        ],
    )
    loaded = read_grounder(p, data_root=tmp_path, skip_bad_rows=True)
    assert loaded.records == [
        GrounderRecord(tmp_path / "a.mp4", "q1", (Window(2, 4.5),), 30.0),
        GrounderRecord(tmp_path / "b.mp4", "q2", (Window(1, 2), Window(5, 7)), None),
    ]
    assert [(b.line, b.reason) for b in loaded.skipped] == [
        (3, "'span' must be [start, end], got []"),
        (4, "'query' is empty"),
    ]


def test_verifier_labels_by_hand():
    truth = [
        GrounderRecord(Path("a.mp4"), "q", (Window(10, 20),), 60.0),
        GrounderRecord(Path("b.mp4"), "r", (Window(0, 4), Window(30, 40)), None),
    ]
    preds = [
        # IoU 1; 5/15 = 0.333; 10/20 = 0.5 (>= counts); reversed → 0; 6th is beyond top 5
        [
            Window(10, 20),
            Window(5, 15),
            Window(10, 30),
            Window(20, 10),
            Window(0, 1),
            Window(10, 20),
        ],
        # best over the two GT spans: 8/10 against (30, 40)
        [Window(32, 40.0)],
    ]
    recs = verifier_records(preds, truth)
    assert [(r.rank, round(r.iou, 4), r.label) for r in recs] == [
        (0, 1.0, "Yes"),
        (1, 0.3333, "No"),
        (2, 0.5, "Yes"),
        (3, 0.0, "No"),
        (4, 0.0, "No"),
        (0, 0.8, "Yes"),
    ]
    assert recs[0].video == Path("a.mp4") and recs[0].duration == 60.0 and recs[0].positive
    assert recs[5].query == "r" and recs[5].candidate == Window(32, 40)
    assert len(verifier_records(preds, truth, top_k=2)) == 3
    with pytest.raises(ValueError, match="1 prediction lists for 2 queries"):
        verifier_records(preds[:1], truth)


def test_verifier_file_of_grounder_predictions(tmp_path):
    p = _jsonl(
        tmp_path / "v.jsonl",
        [
            {
                "video_path": "a.mp4",
                "duration": 30,
                "query": "q",
                "span": [[10, 20]],
                "pred": [[10, 20, 0.9], [0, 5, 0.1]],
            },
            {
                "video_path": "a.mp4",
                "duration": 30,
                "query": "q",
                "span": [[10, 20]],
                "pred": [[1]],
            },
        ],
    )
    with pytest.raises(RecordError, match=r"v.jsonl:2: 'pred'\[0\] must be \[start, end\]"):
        read_verifier(p)
    loaded = read_verifier(p, skip_bad_rows=True)
    assert [r.label for r in loaded] == ["Yes", "No"] and loaded.skipped[0].line == 2
    assert loaded.lines == [1, 1]  # both candidates come from the first row


def test_planner_routes_and_replies(tmp_path):
    rows = [
        {"video_path": "a.mp4", "question": "what did he do?", "query": "he opens it", "route": 1},
        {"video_path": "a.mp4", "question": "what did he do?", "query": None, "route": 2},
        {"video_path": "a.mp4", "question": "when?", "query": "the door opens", "route": 3},
        {"video_path": "a.mp4", "question": "which first?", "route": 4, "duration": 12.5},
        {"video_path": "a.mp4", "question": "q", "route": 1},
        {"video_path": "a.mp4", "question": "q", "query": "x", "route": 5},
        {"video_path": "a.mp4", "question": "q", "query": "x", "route": True},
    ]
    loaded = read_planner(_jsonl(tmp_path / "p.jsonl", rows), skip_bad_rows=True)
    one, two, three, four = loaded.records
    assert four == PlannerRecord(Path("a.mp4"), "which first?", 4, None, 12.5)
    assert one.response() == (
        '[{"type": "grounder", "value": "he opens it"}, {"type": "verifier"}, {"type": "answerer"}]'
    )
    assert two.plan()[0] == {"type": "grounder", "value": "what did he do?"}
    assert three.plan() == [{"type": "grounder", "value": "the door opens"}, {"type": "verifier"}]
    assert four.response() == '[{"type": "answerer"}]'
    assert [(b.line, b.reason) for b in loaded.skipped] == [
        (5, "missing 'query'"),
        (6, "'route' must be one of 1, 2, 3, 4, got 5"),
        (7, "'route' must be one of 1, 2, 3, 4, got True"),
    ]
    quoted = PlannerRecord(Path("a.mp4"), "q", 3, 'the "red" door')
    assert json.loads(quoted.response())[0]["value"] == 'the "red" door'
