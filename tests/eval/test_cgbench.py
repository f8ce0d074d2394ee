"""CG-Bench: long/clue accuracy, merged-interval mIoU, rec@iou / acc@iou with ``>=``, questions
without a score left out, the reply read as run/utils.py reads it, VLMEvalKit's result table."""

from __future__ import annotations

import json

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
    # q11: merged [10, 40] vs [10, 20] + [30, 40]: 20 / 30; q12: 25 / 50
    assert m["miou"] == pytest.approx(100 * (2 / 3 + 0.5) / 2)
    assert m["CRR"] == pytest.approx(100.0)  # min(1, 0.5) / 0.5
    # stat_with_key.py counts miou >= t: q12's 0.5 reaches t = 0.5 (the old strict > gave 90)
    assert m["rec@iou"] == pytest.approx(100.0)
    assert m["acc@iou"] == pytest.approx(100.0)
    assert r.breakdowns["duration"]["0 ~ 10"]["miou"] == pytest.approx(100 * 2 / 3)
    assert r.breakdowns["duration"]["60+"]["long_acc"] == pytest.approx(100.0)
    assert r.breakdowns["sub_category"]["Time Cognition"]["clue_acc"] == pytest.approx(50.0)


def test_questions_without_a_score_are_left_out(files, tmp_path, jsonl):
    ann, _ = files
    rows = [
        {"id": "11", "response": "no idea", "windows": [[10, 20]]},  # no letter: no long_acc
        {"id": "12", "answer": "C"},  # wrong; no windows, no reply to read: no miou
    ]
    r = score("cgbench", [ann], [jsonl(tmp_path / "p.jsonl", rows)])
    assert r.metrics["long_acc"] == 0.0  # only q12 counts
    assert r.metrics["miou"] == pytest.approx(100 * 10 / 20)
    assert "acc@iou" not in r.metrics  # no question has both scores
    assert any("without a long_acc score" in n for n in r.notes)


def test_intervals_are_read_from_the_raw_reply(files, tmp_path, jsonl):
    ann, _ = files
    rows = [
        # json result in seconds (no scaling by the duration): [10, 20] vs both clues = 0.5
        {"id": "11", "response": '<think>maybe 1</think>```json\n{"result": [[10, 20]]}\n```'},
        # no json: every number of the raw reply, the reasoning's "3" included: 3, 0, 25 is an
        # odd count, so q12 has no miou score; its letters: "A", right
        {"id": "12", "response": "<think>3 options</think><answer>(A) 0 - 25</answer>"},
    ]
    m = score("cgbench", [ann], [jsonl(tmp_path / "p.jsonl", rows)]).metrics
    assert m["miou"] == pytest.approx(50.0)  # q11 only
    assert m["long_acc"] == pytest.approx(50.0)  # q11's json result [[10, 20]] is not "B"
    assert m["rec@iou"] == pytest.approx(100.0)


def test_official_result_folder(files, tmp_path, dump):
    ann, _ = files
    folder = tmp_path / "cg_annotations"
    results = {
        "long_acc_gpt-4o_2024_32_true_true_true": {"version": 0, "result": 1},
        "miou_gpt-4o_2024_32_true_true_true": {"version": 0, "result": 0.6},
    }
    dump(folder / "11.json", {**GT[0], "version": 0, "results": results})
    results = {
        "long_acc_gpt-4o_2024_32_true_true_true": {"version": 0, "result": 0},
        "miou_gpt-4o_2024_32_true_true_true": {"version": 0, "result": 0.05},
    }
    dump(folder / "12.json", {**GT[1], "version": 0, "results": results})
    m = score("cgbench", [ann], [folder]).metrics
    assert m["long_acc"] == pytest.approx(50.0)
    assert m["miou"] == pytest.approx(32.5)
    assert "clue_acc" not in m  # no question has a clue_acc result
    assert m["acc@iou"] == pytest.approx(50.0)  # q11: 0.6 >= every threshold and right
    assert m["rec@iou"] == pytest.approx(50.0)  # q12: 0.05 < 0.1


def test_vlmevalkit_result_table(files, tmp_path):
    ann, _ = files
    rows = [
        {"qid": 11, "task_mode": "long_acc", "prediction": "B"},
        {"qid": 11, "task_mode": "miou", "prediction": "[[10, 20], [30, 40]]"},
        {"qid": 11, "task_mode": "clue_acc", "prediction": "C"},
        {"qid": 12, "task_mode": "long_acc", "prediction": "A"},
        {"qid": 12, "task_mode": "miou", "prediction": None},  # no reply: no miou score
    ]
    path = tmp_path / "model_CG-Bench.json"
    path.write_text(json.dumps(rows))
    m = score("cgbench", [ann], [path]).metrics
    assert m["long_acc"] == pytest.approx(100.0) and m["clue_acc"] == 0.0
    assert m["miou"] == pytest.approx(100.0)  # q11's intervals are the clues
    tsv = tmp_path / "model_CG-Bench.tsv"
    lines = ["qid\ttask_mode\tprediction"]
    lines += [f"{r['qid']}\t{r['task_mode']}\t{r['prediction'] or ''}" for r in rows]
    tsv.write_text("\n".join(lines) + "\n")
    assert score("cgbench", [ann], [tsv]).metrics == m
    bad = tmp_path / "bad.tsv"
    bad.write_text("qid\tprediction\n11\tB\n")
    with pytest.raises(PredictionError, match=r"bad.tsv:2: missing column\(s\): task_mode"):
        score("cgbench", [ann], [bad])


def test_vlmevalkit_xlsx(files, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    ann, _ = files
    book = openpyxl.Workbook()
    book.active.append(["index", "qid", "task_mode", "prediction"])
    book.active.append([0, 11, "long_acc", '```json\n{"result": "B"}\n```'])
    book.active.append([1, 12, "long_acc", "D"])
    book.save(tmp_path / "r.xlsx")
    assert score("cgbench", [ann], [tmp_path / "r.xlsx"]).metrics["long_acc"] == 50.0


def test_videomind_first_window_unmerged(files):
    ann, preds = files
    m = score("cgbench", [ann], [preds], compat="videomind").metrics
    # q11's first window [10, 20] against both clues: 10 / (10 + 20 - 10); q12: 25 / 50
    assert m["mIoU"] == pytest.approx(50.0)
    assert m["rec.@IoU"] == pytest.approx(100.0)  # 0.5 >= 0.5 with VideoMind's comparison
    assert m["long-acc."] == 0.0  # check_ans reads '`' and 'i': Failed, in the denominator


def test_videomind_confidence_threshold(files, tmp_path, jsonl):
    ann, _ = files
    rows = [{"id": "11", "windows": [[10, 20], [30, 40]], "scores": [0.9, 0.8], "answer": "B"}]
    preds = jsonl(tmp_path / "p.jsonl", rows)
    assert score("cgbench", [ann], [preds], compat="videomind").metrics["mIoU"] == 50.0
    # conf_thr 0.5 keeps both windows: inter 20 / (20 + 20 - 20)
    kept = score("cgbench", [ann], [preds], compat="videomind", conf_thr=0.5).metrics
    assert kept["mIoU"] == pytest.approx(100.0) and kept["long-acc."] == 100.0


def test_bad_annotations(tmp_path, dump, jsonl):
    ann = dump(tmp_path / "cgbench.json", [{**GT[0], "clue_intervals": "[[0, 1"}])
    with pytest.raises(AnnotationError, match=r"cgbench.json:2: clue_intervals is not JSON"):
        score("cgbench", [ann], [jsonl(tmp_path / "p.jsonl", PREDS)])
    ann = dump(tmp_path / "cgbench.json", GT)
    with pytest.raises(PredictionError, match="expected one predictions file"):
        score("cgbench", [ann], [tmp_path / "missing.jsonl"])
