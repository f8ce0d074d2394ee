"""NExT-GQA: official CSV + gsub loader, hand-computed IoU/IoP/Acc@GQA, skip rules, compat."""

from __future__ import annotations

import pytest

from framescope.errors import AnnotationError, MissingFileError, PredictionError
from framescope.eval.score import score

CSV = """\
video_id,frame_count,width,height,question,answer,qid,type,a0,a1,a2,a3,a4
v1,100,320,240,what did he do after,open door,0,TN,sit,open door,run,jump,eat
v1,100,320,240,why did he rest,to rest,1,CW,to rest,to eat,to run,to sit,to go
v2,100,320,240,how did she come,by car,2,CH,walk,swim,fly,by car,run
v2,100,320,240,when did it rain,at night,3,TP,at night,at noon,never,always,today
"""

GSUB = {
    "v1": {"duration": 30, "location": {"0": [[0, 10]], "1": [[10, 20], [25, 30]]}, "fps": 30},
    "v2": {"duration": 40, "location": {"2": [[5, 15]], "3": [[0, 40]]}, "fps": 30},
}

GROUND = {
    "v1_0": [0, 5],  # IoU 0.5, IoP 1
    "v1_1": [24, 30],  # vs [25, 30]: IoU 5/6, IoP 5/6
    "v2_2": [10, 10],  # zero-length inside the GT: IoU 0, IoP 1
}  # v2_3 has no grounding prediction: skipped

QA = {
    "v1_0": {"prediction": 1, "answer": 1},
    "v1_1": {"prediction": 2, "answer": 0},
    "v2_2": {"prediction": 3, "answer": 3},
    "v2_3": {"prediction": 0, "answer": 0},
}


@pytest.fixture
def folder(tmp_path, dump):
    (tmp_path / "test.csv").write_text(CSV)
    dump(tmp_path / "gsub_test.json", GSUB)
    return tmp_path


def test_official_result_files(folder, tmp_path, dump):
    ground, qa = dump(tmp_path / "test_ground.json", GROUND), dump(tmp_path / "test-res.json", QA)
    r = score("nextgqa", [folder], [ground, qa])
    m = r.metrics
    assert m["mIoU"] == pytest.approx(100 * (0.5 + 5 / 6 + 0) / 3)
    assert m["IoU@0.3"] == pytest.approx(200 / 3)
    assert m["IoU@0.5"] == pytest.approx(200 / 3)  # 0.5 counts (>=)
    assert m["mIoP"] == pytest.approx(100 * (1 + 5 / 6 + 1) / 3)
    assert m["IoP@0.5"] == pytest.approx(100.0)
    assert m["Acc@GQA"] == pytest.approx(200 / 3)  # v1_1 answered wrong
    assert m["Acc@QA"] == pytest.approx(75.0)  # over all 4 questions
    assert r.breakdowns["Acc@QA by type"] == pytest.approx(
        {"Why": 0.0, "How": 100.0, "Bef&Aft": 100.0, "Acc_C": 50.0, "Acc_T": 100.0}
    )
    assert r.counts["grounded_questions"] == 3
    assert any("skipped" in n for n in r.notes)


def test_grounding_file_alone(folder, tmp_path, dump):
    r = score(
        "nextgqa",
        [folder / "test.csv", folder / "gsub_test.json"],
        [dump(tmp_path / "g.json", GROUND)],
    )
    assert "Acc@GQA" not in r.metrics and "Acc@QA" not in r.metrics
    assert r.metrics["mIoP"] == pytest.approx(100 * (1 + 5 / 6 + 1) / 3)


def test_framescope_records(folder, tmp_path, jsonl):
    preds = jsonl(
        tmp_path / "p.jsonl",
        [
            {"id": "v1_0", "windows": [[0, 5]], "answer": "B"},
            {"id": "v1_1", "windows": [[24, 30]], "response": "The answer is C."},
            {"id": "v2_2", "windows": [[10, 10]], "answer": "(D) by car"},
            {"id": "v2_3", "answer": "A"},  # a record without a window counts as IoU = IoP = 0
        ],
    )
    m = score("nextgqa", [folder], [preds]).metrics
    assert m["mIoU"] == pytest.approx(100 * (0.5 + 5 / 6) / 4)
    assert m["mIoP"] == pytest.approx(100 * (1 + 5 / 6 + 1) / 4)
    assert m["Acc@QA"] == pytest.approx(75.0)
    assert m["Acc@GQA"] == pytest.approx(50.0)


def test_videomind_compat(folder, tmp_path, jsonl):
    preds = jsonl(
        tmp_path / "p.jsonl",
        [
            {"id": "v1_0", "windows": [[0, 5]], "answer": "B"},
            {"id": "v1_1", "windows": [[24, 30]], "answer": "C"},
            {"id": "v2_2", "windows": [[10, 10]], "answer": "D"},
            {"id": "v2_3", "answer": "The answer is A"},  # check_ans reads 't': unreadable, wrong
        ],
    )
    r = score("nextgqa", [folder], [preds], compat="videomind")
    m = r.metrics
    # grounding over the 3 samples with a window; the zero-length one has IoP 0/0 → 0 in nncore
    assert m["mIoP"] == pytest.approx(100 * (1 + 5 / 6 + 0) / 3)
    assert m["R1@0.7 (IoP)"] == pytest.approx(200 / 3)
    assert m["mIoU"] == pytest.approx(100 * (0.5 + 5 / 6 + 0) / 3)
    assert m["R1@0.5"] == pytest.approx(200 / 3)  # 0.5 >= 0.5 in float32 too
    assert m["R5@0.3"] == pytest.approx(200 / 3)
    # VideoMind's QA table: B right, C wrong, D right, "The answer is A" → t: Failed
    assert m["Acc"] == pytest.approx(50.0)
    assert m["Acc (IoU >= 0.5)"] == pytest.approx(25.0)  # only v1_0: right and IoU 0.5
    assert m["Acc (IoP >= 0.5)"] == pytest.approx(25.0)  # v2_2 is right but its IoP is 0
    assert r.breakdowns["QA"]["TP"]["Failed"] == 1  # per task: the CSV's question type


def test_missing_qa_prediction_is_an_error(folder, tmp_path, dump):
    qa = dump(tmp_path / "qa.json", {k: v for k, v in QA.items() if k != "v2_3"})
    with pytest.raises(PredictionError, match="Acc@QA needs every question's answer"):
        score("nextgqa", [folder], [dump(tmp_path / "g.json", GROUND), qa])


def test_answer_not_among_options(tmp_path, dump, jsonl):
    (tmp_path / "test.csv").write_text(CSV.replace("open door,0,TN", "close door,0,TN"))
    dump(tmp_path / "gsub_test.json", GSUB)
    with pytest.raises(
        AnnotationError, match=r"test.csv:2: answer 'close door' is none of the options"
    ):
        score("nextgqa", [tmp_path], [jsonl(tmp_path / "p.jsonl", [{"id": "v1_0"}])])


def test_bad_csv_and_gsub(tmp_path, dump, jsonl):
    preds = jsonl(tmp_path / "p.jsonl", [{"id": "v1_0"}])
    (tmp_path / "test.csv").write_text("video_id,question\nv1,q\n")
    dump(tmp_path / "gsub_test.json", GSUB)
    with pytest.raises(AnnotationError, match=r"test.csv:1: missing CSV column"):
        score("nextgqa", [tmp_path], [preds])
    (tmp_path / "test.csv").write_text(CSV)
    (tmp_path / "gsub_test.json").write_text(
        '{"v1": {"duration": 30,\n "location": {"0": [[0, 10]]}\n'
    )
    with pytest.raises(AnnotationError, match=r"gsub_test.json:3: invalid JSON"):
        score("nextgqa", [tmp_path], [preds])


def test_renamed_files_are_found_by_kind(folder, tmp_path, dump):
    (folder / "test.csv").rename(folder / "my_split.csv")
    (folder / "gsub_test.json").rename(folder / "my_gsub.json")
    ground = dump(tmp_path / "g.json", GROUND)
    r = score("nextgqa", [folder / "my_split.csv", folder / "my_gsub.json"], [ground])
    assert r.counts["grounded_questions"] == 3


def test_missing_gsub_file(tmp_path, jsonl):
    (tmp_path / "test.csv").write_text(CSV)
    with pytest.raises(
        MissingFileError, match=r"nextgqa: expected the grounding file gsub_test.json"
    ):
        score("nextgqa", [tmp_path], [jsonl(tmp_path / "p.jsonl", [{"id": "v1_0"}])])


def test_normalised_time_grounding(folder, tmp_path, dump):
    # eval_ground.py's gs mode: fractions × duration, np.round to 0.1 s (half to even)
    ground = dump(tmp_path / "test_ground_gs.json", {"v1_0": [0.0, 0.1675], "v2_2": [0.125, 0.375]})
    m = score("nextgqa", [folder], [ground], normalised_time=True).metrics
    # v1_0: [0, 5.025] → [0, 5.0]: IoU 0.5; v2_2: [5, 15] exactly the GT: IoU 1
    assert m["mIoU"] == pytest.approx(75.0)
    assert score("nextgqa", [folder], [ground]).metrics["mIoU"] < 1.0  # read as seconds


def test_qa_file_answers_are_its_own(folder, tmp_path, dump):
    # eval_next.py compares the file's prediction with the file's answer, not the CSV's
    qa = dump(tmp_path / "test-res.json", {**QA, "v1_1": {"prediction": 2, "answer": 2}})
    assert score("nextgqa", [folder], [qa]).metrics["Acc@QA"] == pytest.approx(100.0)
