"""Video-MME, MLVU and LVBench: loaders, denominator rules, macro vs micro, multi-label, compat."""

from __future__ import annotations

import pytest

from framescope.errors import AnnotationError, EvalError, PredictionError
from framescope.eval.score import score

# ----------------------------------------------------------------------------------- Video-MME


def _row(qid, duration, domain, task, answer):
    return {
        "video_id": qid.split("-")[0],
        "duration": duration,
        "domain": domain,
        "sub_category": "Sub " + domain,
        "url": "u",
        "videoID": "vid" + qid,
        "question_id": qid,
        "task_type": task,
        "question": "?",
        "options": ["A. a", "B. b", "C. c", "D. d"],
        "answer": answer,
    }


ROWS = [
    _row("001-1", "short", "Knowledge", "OCR Problems", "B"),
    _row("001-2", "short", "Knowledge", "Counting Problem", "C"),
    _row("002-1", "long", "Sports Competition", "OCR Problems", "A"),
    _row("002-2", "long", "Sports Competition", "Counting Problem", "D"),
]
RESPONSES = {
    "001-1": "The best answer is B",  # right
    "001-2": "Based on the video, C",  # the official reader takes the B of "Based": wrong
    "002-1": "I cannot tell",  # no A–D: not answered, left out of the denominator
    "002-2": "D",  # right
}


def _nested(rows):
    videos = {}
    for r in rows:
        v = videos.setdefault(
            r["video_id"],
            {
                "video_id": r["video_id"],
                "duration": r["duration"],
                "domain": r["domain"],
                "sub_category": r["sub_category"],
                "questions": [],
            },
        )
        v["questions"].append(
            {
                "question_id": r["question_id"],
                "task_type": r["task_type"],
                "answer": r["answer"],
                "response": RESPONSES[r["question_id"]],
            }
        )
    return list(videos.values())


@pytest.fixture
def videomme(tmp_path, dump):
    return dump(tmp_path / "test.json", ROWS), dump(tmp_path / "results.json", _nested(ROWS))


def test_videomme_official_leaves_unreadable_out(videomme):
    ann, results = videomme
    r = score("videomme", [ann], [results])
    assert r.metrics == pytest.approx({"Overall": 200 / 3, "short": 50.0, "long": 100.0})
    assert r.counts == {"questions": 4, "answered": 3, "unreadable": 1}
    assert r.breakdowns["Task Categories"] == pytest.approx(
        {"OCR Problems": 100.0, "Counting Problem": 50.0}
    )
    assert r.breakdowns["Video Categories"]["Sports Competition"] == pytest.approx(100.0)
    assert r.breakdowns["long"]["Task Categories"]["OCR Problems"] == 0.0  # nothing answered: 0


def test_videomme_official_parquet(videomme, tmp_path):
    """The Hugging Face release as distributed: one parquet file, options as a list column."""
    pa, pq = pytest.importorskip("pyarrow"), pytest.importorskip("pyarrow.parquet")
    ann, results = videomme
    parquet = tmp_path / "videomme" / "test-00000-of-00001.parquet"
    parquet.parent.mkdir()
    pq.write_table(pa.Table.from_pylist(ROWS), parquet)
    from_parquet = score("videomme", [parquet.parent], [results])
    assert from_parquet.metrics == score("videomme", [ann], [results]).metrics
    bad = tmp_path / "bad.parquet"
    pq.write_table(pa.Table.from_pylist([ROWS[0], {**ROWS[1], "duration": "huge"}]), bad)
    with pytest.raises(AnnotationError, match=r"bad.parquet:2: duration must be one of"):
        score("videomme", [bad], [results])


def test_videomme_results_file_also_serves_as_annotations(videomme):
    _, results = videomme
    assert score("videomme", [results], [results]).metrics["Overall"] == pytest.approx(200 / 3)


def test_videomme_compat_variants(videomme, tmp_path, jsonl):
    ann, results = videomme
    # lmms-eval v0.7.2's extract_mcq_answer: "… is B" (trailing B), "Based on the video, C"
    # (trailing C; the "B" of "Based" starts a word: no candidate), nothing in "I cannot tell"
    # (wrong), "D": 3 of 4
    lmms = score("videomme", [ann], [results], compat="lmms-eval").metrics
    assert lmms["Overall"] == pytest.approx(75.0)
    # check_ans: "the" → t (Failed), "based," → b, "i" (Failed), "d": only the last is right;
    # VideoMind's QA table, one row per duration
    vm = score("videomme", [ann], [results], compat="videomind")
    assert vm.metrics["Acc"] == pytest.approx(25.0)
    assert vm.metrics["Acc (IoU >= 0.5)"] == 0.0  # printed by VideoMind's table, no grounding
    assert vm.breakdowns["QA"]["long"]["Acc"] == pytest.approx(50.0)
    assert vm.counts == {"QA: samples": 4, "QA: failed": 2}
    preds = jsonl(tmp_path / "p.jsonl", [{"id": k, "response": v} for k, v in RESPONSES.items()])
    assert score("videomme", [ann], [preds]).metrics["Overall"] == pytest.approx(200 / 3)


def test_videomme_failed_sample_is_unanswered(videomme, tmp_path, jsonl):
    ann, _ = videomme
    rows = [{"id": k, "answer": v} for k, v in RESPONSES.items() if k != "002-2"]
    preds = jsonl(tmp_path / "p.jsonl", [*rows, {"id": "002-2", "error": "oom"}])
    r = score("videomme", [ann], [preds])
    assert r.metrics["Overall"] == pytest.approx(50.0)
    assert r.counts["answered"] == 2


def test_videomme_errors(tmp_path, dump, videomme):
    ann, results = videomme
    bad = dump(tmp_path / "bad.json", [ROWS[0], {**ROWS[1], "duration": "huge"}])
    with pytest.raises(AnnotationError, match=r"bad.json:\d+: duration must be one of"):
        score("videomme", [bad], [results])
    parquet = tmp_path / "test-00000-of-00001.parquet"
    parquet.write_bytes(b"PAR1")
    with pytest.raises(
        AnnotationError, match=r"test-00000-of-00001\.parquet: not a readable parquet file"
    ):
        score("videomme", [parquet], [results])
    partial = dump(tmp_path / "partial.json", _nested(ROWS[:2]))
    with pytest.raises(PredictionError, match="complete results"):
        score("videomme", [ann], [partial])


# ----------------------------------------------------------------------------------- MLVU


@pytest.fixture
def mlvu(tmp_path, dump):
    folder = tmp_path / "json"
    q = {"video": "v.mp4", "duration": 300, "question": "?"}
    dump(
        folder / "1_plotQA.json",
        [
            {**q, "candidates": ["man", "dog", "cat"], "answer": "dog", "question_type": "plotQA"},
            {**q, "candidates": ["dog", "man"], "answer": "dog", "question_type": "plotQA"},
        ],
    )
    dump(
        folder / "2_needle.json",
        [{**q, "candidates": ["a", "b", "c", "d"], "answer": "c", "question_type": "needle"}],
    )
    dump(folder / "8_sub_scene.json", [{**q, "answer": "a scene", "question_type": "subPlot"}])
    return folder


def test_mlvu_macro_and_micro(mlvu, tmp_path, jsonl):
    preds = jsonl(
        tmp_path / "p.jsonl",
        [
            {"id": "plotQA_0", "response": "B) the dog"},  # right
            {"id": "plotQA_1", "response": "A ) dog"},  # officially " " (before ")") ≠ "A"
            {"id": "needle_0", "answer": "C"},  # right
        ],
    )
    r = score("mlvu", [mlvu], [preds])
    # choice_bench.py's Avg is the mean over the tasks (macro), not over the questions (2/3)
    assert r.metrics == pytest.approx({"Avg": 75.0, "plotQA": 50.0, "needle": 100.0})
    lmms = score("mlvu", [mlvu], [preds], compat="lmms-eval").metrics
    # lmms-eval reads "A ) dog" as A (right) and averages over its fixed 7 dev tasks
    assert lmms["M-Avg"] == pytest.approx(200 / 7)
    # check_ans strips the brackets: "A ) dog" → A, right
    assert score("mlvu", [mlvu], [preds], compat="videomind").metrics["Acc"] == pytest.approx(100.0)


def test_mlvu_gold_letter_as_check_ans_sees_it(tmp_path, dump, jsonl):
    q = {"video": "v.mp4", "question": "?", "question_type": "plotQA"}
    dump(
        tmp_path / "1_plotQA.json",
        [
            {**q, "candidates": ["dog", "cat", "dog"], "answer": "dog"},  # the last match: C
            {**q, "candidates": ["a", "b"], "answer": "z"},  # none: chr(ord("A") - 1) = "@"
        ],
    )
    preds = [{"id": "plotQA_0", "response": "C) dog"}, {"id": "plotQA_1", "response": "@)"}]
    r = score("mlvu", [tmp_path / "1_plotQA.json"], [jsonl(tmp_path / "p.jsonl", preds)])
    assert r.metrics["Avg"] == 100.0 and any("'@'" in n for n in r.notes)


def test_mlvu_official_results_and_failures(mlvu, tmp_path, dump, jsonl):
    res = dump(
        tmp_path / "test_res.json",
        [
            {"question_id": "plotQA_0", "question_type": "plotQA", "option": "B"},
            {"question_id": "plotQA_1", "question_type": "plotQA", "option": "A"},
            {"question_id": "needle_0", "question_type": "needle", "option": "D"},
        ],
    )
    assert score("mlvu", [mlvu], [res]).metrics["Avg"] == pytest.approx(50.0)
    failed = jsonl(
        tmp_path / "f.jsonl",
        [{"id": i, "error": "x"} for i in ("plotQA_0", "plotQA_1", "needle_0")],
    )
    assert score("mlvu", [mlvu], [failed]).metrics["Avg"] == 0.0


def test_mlvu_malformed_question_names_its_line(tmp_path, dump, jsonl):
    dump(tmp_path / "1_plotQA.json", [{"candidates": ["a"], "answer": "a"}, {"candidates": "a, b"}])
    with pytest.raises(
        AnnotationError, match=r"1_plotQA.json:\d+: expected a non-empty 'candidates' list"
    ):
        score("mlvu", [tmp_path], [jsonl(tmp_path / "p.jsonl", [{"id": "plotQA_0"}])])


def test_mlvu_lmms_eval_rejects_unknown_tasks(tmp_path, dump, jsonl):
    dump(
        tmp_path / "q.json", [{"candidates": ["a", "b"], "answer": "a", "question_type": "mystery"}]
    )
    with pytest.raises(EvalError, match="lmms-eval knows only"):
        score(
            "mlvu",
            [tmp_path / "q.json"],
            [jsonl(tmp_path / "p.jsonl", [{"id": "mystery_0", "answer": "A"}])],
            compat="lmms-eval",
        )


# ----------------------------------------------------------------------------------- LVBench

LV = [
    {
        "key": "yt1",
        "type": "cartoon",
        "qa": [
            {
                "uid": 1,
                "question": "q\n(A) a\n(B) b\n(C) c\n(D) d",
                "answer": "A",
                "question_type": ["key information retrieval", "reasoning"],
                "time_reference": "00:15-00:19",
            },
            {
                "uid": 2,
                "question": "q",
                "answer": "B",
                "question_type": ["reasoning"],
                "time_reference": "",
            },
        ],
    },
    {
        "key": "yt2",
        "type": "sports",
        "qa": [
            {
                "uid": 3,
                "question": "q",
                "answer": "C",
                "question_type": ["temporal grounding"],
                "time_reference": "",
            },
        ],
    },
]


@pytest.fixture
def lvbench(tmp_path, jsonl):
    return jsonl(tmp_path / "video_info.meta.jsonl", LV)


def test_lvbench_multilabel_and_skipped(lvbench, tmp_path, dump):
    r = score("lvbench", [lvbench], [dump(tmp_path / "answers.json", {"1": "A", "2": "C"})])
    # uid 3 has no answer: skipped; uid 1 counts in both of its categories
    assert r.metrics == pytest.approx({"Overall": 50.0, "KIR": 100.0, "Rea": 50.0})
    assert r.counts == {"questions": 2}


def test_lvbench_framescope_and_compat(lvbench, tmp_path, jsonl):
    preds = jsonl(
        tmp_path / "p.jsonl",
        [
            {"id": "1", "response": "(A) the dog"},  # polish_answer → A
            {"id": "2", "error": "oom"},  # present but failed: wrong
        ],
    )
    assert score("lvbench", [lvbench], [preds]).metrics["Overall"] == pytest.approx(50.0)
    with pytest.raises(PredictionError, match="lmms-eval scores every question"):
        score("lvbench", [lvbench], [preds], compat="lmms-eval")
    full = jsonl(
        tmp_path / "full.jsonl",
        [
            {"id": "1", "response": "The answer is A"},
            {"id": "2", "answer": "B"},
            {"id": "3", "answer": "x"},
        ],
    )
    lm = score("lvbench", [lvbench], [full], compat="lmms-eval").metrics
    assert lm == pytest.approx({"Overall": 100 * 2 / 3})  # "The answer is A" → A; no categories
    assert score("lvbench", [lvbench], [full]).metrics["Overall"] == pytest.approx(100 / 3)  # "T"


def test_lvbench_bad_files(tmp_path, jsonl, dump):
    ann = jsonl(tmp_path / "video_info.meta.jsonl", [LV[0], {"key": "x", "qa": [{"uid": 9}]}])
    with pytest.raises(AnnotationError, match=r"video_info.meta.jsonl:2: each qa needs"):
        score("lvbench", [ann], [dump(tmp_path / "a.json", {"1": "A"})])
    ann = jsonl(tmp_path / "video_info.meta.jsonl", LV)
    with pytest.raises(PredictionError, match=r"a.json:2: answer of 1 must be a string"):
        score("lvbench", [ann], [dump(tmp_path / "a.json", {"1": 0})])


def test_lmms_eval_strips_reasoning_before_reading(videomme, tmp_path, jsonl):
    ann, _ = videomme
    rows = [{"id": r["question_id"], "response": "<think>B?</think> A"} for r in ROWS]
    preds = jsonl(tmp_path / "p.jsonl", rows)
    # lmms-eval removes the think block and reads "A": right for 002-1 (long) only
    lmms = score("videomme", [ann], [preds], compat="lmms-eval").metrics
    assert (lmms["short"], lmms["long"]) == (0.0, 50.0)
    # the official reader sees the raw reply: the "B" inside <think> comes first: 001-1 (short)
    official = score("videomme", [ann], [preds]).metrics
    assert (official["short"], official["long"]) == (50.0, 0.0)
