"""ReXTime: submission format, first-window IoU, R1 at 0.3…0.95, VQA and VQA,mIoU@t, compat."""

from __future__ import annotations

import pytest

from framescope.errors import AnnotationError, PredictionError
from framescope.eval.score import score

GT = [
    {
        "qid": "anet_val1",
        "query": "a",
        "duration": 100,
        "vid": "v_a",
        "relevant_windows": [[0, 10]],
        "ans": "A",
    },
    {
        "qid": "qvh_val2",
        "query": "b",
        "duration": 150,
        "vid": "x",
        "relevant_windows": [[20, 30], [40, 50]],
        "ans": "B",
    },
    {
        "qid": "anet_val3",
        "query": "c",
        "duration": 100,
        "vid": "v_c",
        "relevant_windows": [[0, 100]],
        "ans": "C",
    },
]

SUB = [
    {"qid": "anet_val1", "pred_relevant_windows": [[0, 5, 1.0]], "ans": "A"},  # IoU 0.5, right
    # first listed [41, 50] matched to the GT window it overlaps most ([40, 50]): IoU 0.9
    {"qid": "qvh_val2", "pred_relevant_windows": [[41, 50, 0.9], [20, 30, 0.8]], "ans": "B"},
    {"qid": "anet_val3", "pred_relevant_windows": [], "ans": "D"},  # no window: IoU 0; wrong
]


@pytest.fixture
def files(tmp_path, jsonl):
    return jsonl(tmp_path / "rextime_val.jsonl", GT), jsonl(tmp_path / "sub.jsonl", SUB)


def test_grounding_and_vqa(files):
    ann, sub = files
    r = score("rextime", [ann], [sub])
    m = r.metrics
    assert m["MR-full-mIoU"] == pytest.approx(100 * 1.4 / 3)
    assert m["MR-full-R1@0.3"] == pytest.approx(200 / 3)
    assert m["MR-full-R1@0.5"] == pytest.approx(200 / 3)
    assert m["VQA"] == pytest.approx(200 / 3)
    assert m["VQA,mIoU@0.5"] == pytest.approx(200 / 3)
    assert r.breakdowns["full"]["VQA,mIoU"]["VQA,mIoU@0.7"] == pytest.approx(100 / 3)
    assert r.breakdowns["full"]["MR-R1"]["0.9"] == pytest.approx(100 / 3)
    assert r.breakdowns["full"]["MR-R1"]["0.95"] == 0.0
    assert len(r.breakdowns["full"]["MR-R1"]) == 14


def test_answers_only_and_windows_only(files, tmp_path, jsonl):
    ann, _ = files
    only_ans = jsonl(tmp_path / "a.jsonl", [{"qid": g["qid"], "ans": "A"} for g in GT])
    assert score("rextime", [ann], [only_ans]).metrics == pytest.approx({"VQA": 100 / 3})
    only_win = jsonl(
        tmp_path / "w.jsonl", [{k: v for k, v in s.items() if k != "ans"} for s in SUB]
    )
    m = score("rextime", [ann], [only_win]).metrics
    assert set(m) == {"MR-full-mIoU", "MR-full-R1@0.3", "MR-full-R1@0.5"}


def test_framescope_records_and_videomind(files, tmp_path, jsonl):
    ann, _ = files
    preds = jsonl(
        tmp_path / "p.jsonl",
        [
            {"id": "anet_val1", "windows": [[0, 5]], "response": "<answer>A</answer>"},
            {"id": "qvh_val2", "windows": [[41, 50], [20, 30]], "answer": "B"},
            {"id": "anet_val3", "error": "decode failed"},
        ],
    )
    assert score("rextime", [ann], [preds]).metrics["VQA,mIoU@0.5"] == pytest.approx(200 / 3)
    vm = score("rextime", [ann], [preds], compat="videomind").metrics
    # over the 2 samples with windows; R3 finds [20, 30] for qvh_val2
    assert vm["R1@0.7"] == pytest.approx(50.0)
    assert vm["R3@0.7"] == pytest.approx(50.0)
    assert vm["mIoU"] == pytest.approx(100 * (0.5 + 0.9) / 2)
    # check_ans reads the raw reply: "<answer>a</answer>" → "<", Failed; the failed sample is
    # Failed too; only qvh_val2's "B" is right (IoU 0.9, IoP 1)
    assert vm["Acc"] == pytest.approx(100 / 3)
    assert vm["Acc (IoU >= 0.5)"] == pytest.approx(100 / 3)
    assert vm["Acc (IoP >= 0.5)"] == pytest.approx(100 / 3)
    assert vm["mIoP"] == pytest.approx(100.0)  # [0, 5] in [0, 10], [41, 50] in [40, 50]


def test_videomind_submission_letters_are_case_insensitive(files, tmp_path, jsonl):
    ann, _ = files
    rows = [{**r, "ans": r["ans"].lower()} for r in SUB]
    sub = jsonl(tmp_path / "lower.jsonl", rows)
    assert score("rextime", [ann], [sub]).metrics["VQA"] == 0.0  # official: exact strings
    vm = score("rextime", [ann], [sub], compat="videomind")
    assert vm.metrics["Acc"] == pytest.approx(200 / 3)  # check_ans lower-cases both
    assert vm.breakdowns["QA"]["unknown"]["#Samples"] == 3  # no category in these rows


def test_qids_must_match(files, tmp_path, jsonl):
    ann, _ = files
    with pytest.raises(PredictionError, match="qids must match"):
        score("rextime", [ann], [jsonl(tmp_path / "s.jsonl", SUB[:2])])


def test_malformed_gt(tmp_path, jsonl, files):
    _, sub = files
    ann = jsonl(
        tmp_path / "rextime_val.jsonl", [GT[0], {"qid": "x", "relevant_windows": [], "ans": "A"}]
    )
    with pytest.raises(AnnotationError, match=r"rextime_val.jsonl:2: 'relevant_windows' must be"):
        score("rextime", [ann], [sub])
