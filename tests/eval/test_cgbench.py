"""CG-Bench: long/clue accuracy, merged-interval mIoU, strict rec@iou / acc@iou, -1 exclusion."""

from __future__ import annotations

import pytest

from framescope.errors import AnnotationError, PredictionError
from framescope.eval.score import score

GT = [
    {
        "qid": 11,
        "video_uid": "a",
        "question": "?",
        "answer": "x",
        "choices": ["w", "x", "y", "z"],
        "right_answer": "B",
        "clue_intervals": [[10, 20], [30, 40]],
        "duration": 300,
        "domain": "News",
        "sub_category": "Time Cognition",
    },
    {
        "qid": 12,
        "video_uid": "b",
        "question": "?",
        "answer": "w",
        "choices": ["w", "x", "y", "z"],
        "right_answer": "A",
        "clue_intervals": "[[0, 50]]",
        "duration": 4000,
        "domain": "GUI",
        "sub_category": "Time Cognition",
    },
]

PREDS = [
    # an unquoted json result is fixed up by the official reader: right; clues merged to [10, 40]
    {"id": "11", "response": '```json\n{"result": B}\n```', "windows": [[10, 20], [15, 40]]},
    {"id": "11#clue", "answer": "A"},
    # fallback: every standalone capital, right when the answer is among them
    {"id": "12", "response": "I think A or maybe C", "windows": [[0, 25]]},
    {"id": "12#clue", "answer": "A"},
]


@pytest.fixture
def files(tmp_path, dump, jsonl):
    return dump(tmp_path / "cgbench.json", GT), jsonl(tmp_path / "p.jsonl", PREDS)


def test_official_scores(files):
    ann, preds = files
    r = score("cgbench", [ann], [preds])
    m = r.metrics
    assert m["long_acc"] == pytest.approx(100.0)
    assert m["clue_acc"] == pytest.approx(50.0)
    assert m["miou"] == pytest.approx(100 * (2 / 3 + 0.5) / 2)
    assert m["CRR"] == pytest.approx(100.0)  # min(1, 0.5) / 0.5
    # miou 0.5 is not > 0.5 (strict): [1, 1, 1, 1, 0.5] over the thresholds
    assert m["rec@iou"] == pytest.approx(90.0)
    assert m["acc@iou"] == pytest.approx(90.0)
    assert r.breakdowns["duration"]["0 ~ 10"]["miou"] == pytest.approx(100 * 2 / 3)
    assert r.breakdowns["duration"]["60+"]["long_acc"] == pytest.approx(100.0)
    assert r.breakdowns["sub_category"]["Time Cognition"]["clue_acc"] == pytest.approx(50.0)


def test_unreadable_answers_are_left_out(files, tmp_path, jsonl):
    ann, _ = files
    preds = jsonl(
        tmp_path / "p.jsonl",
        [
            {
                "id": "11",
                "response": "no idea",
                "windows": [[10, 20]],
            },  # unreadable: out of long_acc
            {"id": "12", "answer": "C", "error": None},  # wrong, no windows: no miou
        ],
    )
    r = score("cgbench", [ann], [preds])
    assert r.metrics["long_acc"] == 0.0  # only q12 counts
    assert r.metrics["miou"] == pytest.approx(100 * 10 / 20)
    assert "acc@iou" not in r.metrics  # no question has both a valid miou and long_acc
    assert any("unreadable long_acc" in n for n in r.notes)


def test_official_result_folder(files, tmp_path, dump):
    ann, _ = files
    folder = tmp_path / "cg_annotations"
    dump(
        folder / "11.json",
        {
            **GT[0],
            "version": 0,
            "results": {
                "long_acc_gpt-4o_2024_32_true_true_true": {"version": 0, "result": 1},
                "miou_gpt-4o_2024_32_true_true_true": {"version": 0, "result": 0.6},
                "clue_acc_gpt-4o_2024_32_true_true_true": {"version": 0, "result": None},
            },
        },
    )
    dump(
        folder / "12.json",
        {
            **GT[1],
            "version": 0,
            "results": {
                "long_acc_gpt-4o_2024_32_true_true_true": {"version": 0, "result": 0},
                "miou_gpt-4o_2024_32_true_true_true": {"version": 0, "result": 0.05},
            },
        },
    )
    m = score("cgbench", [ann], [folder]).metrics
    assert m["long_acc"] == pytest.approx(50.0)
    assert m["miou"] == pytest.approx(32.5)
    assert "clue_acc" not in m  # its only result was unreadable
    assert m["acc@iou"] == pytest.approx(50.0)  # q11: 0.6 > every threshold and right


def test_videomind_first_window_unmerged(files):
    ann, preds = files
    m = score("cgbench", [ann], [preds], compat="videomind").metrics
    # q11's first window [10, 20] against both clues: 10 / (10 + 20 - 10); q12: 25 / 50
    assert m["mIoU"] == pytest.approx(50.0)
    assert m["rec.@IoU"] == pytest.approx(100.0)  # 0.5 >= 0.5 with VideoMind's comparison
    assert m["long-acc."] == 0.0  # check_ans reads '`' and 'i'


def test_bad_annotations(tmp_path, dump, jsonl):
    ann = dump(tmp_path / "cgbench.json", [{**GT[0], "clue_intervals": "[[0, 1"}])
    with pytest.raises(AnnotationError, match=r"cgbench.json:2: clue_intervals is not JSON"):
        score("cgbench", [ann], [jsonl(tmp_path / "p.jsonl", PREDS)])
    ann = dump(tmp_path / "cgbench.json", GT)
    with pytest.raises(PredictionError, match="expected one predictions file"):
        score("cgbench", [ann], [tmp_path / "missing.jsonl"])
