"""QVHighlights: loader, hand-computed MR-mAP / R1 / HL-mAP / HIT@1, compat, edge cases."""

from __future__ import annotations

import pytest

from framescope.errors import AnnotationError, PredictionError
from framescope.eval.score import score

GT = [
    {  # 5 clips; two 4-s windows (short range)
        "qid": 1,
        "query": "a",
        "duration": 10,
        "vid": "v1",
        "relevant_windows": [[0, 4], [6, 10]],
        "relevant_clip_ids": [0, 1, 3, 4],
        "saliency_scores": [[4, 4, 4], [2, 1, 0], [3, 3, 3], [0, 0, 4]],
    },
    {  # 75 clips; one 40-s window (long range)
        "qid": 2,
        "query": "b",
        "duration": 150,
        "vid": "v2",
        "relevant_windows": [[20, 60]],
        "relevant_clip_ids": [10, 11],
        "saliency_scores": [[2, 2, 2], [4, 4, 4]],
    },
]

SUBMISSION = [
    # listed first: [6, 10] (score 0.5) — R1 uses it; AP sorts [0, 4] (0.9) first
    {
        "qid": 1,
        "pred_relevant_windows": [[6, 10, 0.5], [0, 4, 0.9]],
        "pred_saliency_scores": [0.1, 0.9, 0.0, 0.5, 0.2],
    },
    # IoU exactly 0.5 with [20, 60]; saliency shorter than the video: zero-padded
    {"qid": 2, "pred_relevant_windows": [[20, 40, 0.9]], "pred_saliency_scores": [1.0]},
]


@pytest.fixture
def files(tmp_path, jsonl):
    return jsonl(tmp_path / "highlight_val_release.jsonl", GT), jsonl(
        tmp_path / "sub.jsonl", SUBMISSION
    )


def test_moment_retrieval_hand_computed(files):
    ann, sub = files
    r = score("qvhighlights", [ann], [sub])
    m = r.metrics
    # q1: AP 1 at every threshold; q2: AP 1 at 0.5 only
    assert m["MR-full-mAP@0.5"] == pytest.approx(100.0)
    assert m["MR-full-mAP@0.75"] == pytest.approx(50.0)
    assert m["MR-full-mAP"] == pytest.approx((100 + 9 * 50) / 10)
    assert m["MR-short-mAP"] == pytest.approx(100.0)
    assert m["MR-long-mAP"] == pytest.approx(10.0)
    assert "MR-middle-mAP" not in m  # no GT window in (10, 30]
    assert any("middle" in n for n in r.notes)
    # R1: the first listed window of q1 is [6, 10] (IoU 1), q2 0.5
    assert m["MR-full-R1@0.5"] == pytest.approx(100.0)
    assert m["MR-full-R1@0.7"] == pytest.approx(50.0)
    assert r.breakdowns["full"]["MR-R1"]["0.95"] == pytest.approx(50.0)


def test_highlights_hand_computed(files):
    ann, sub = files
    m = score("qvhighlights", [ann], [sub]).metrics
    # Fair (>= 2): q1 APs per annotator 11/12, 1/2, 3/4; q2: a single top clip that is negative,
    # then a 74-way tie holding both positives → 2/75 for each annotator
    fair = [11 / 12, 1 / 2, 3 / 4, 2 / 75, 2 / 75, 2 / 75]
    assert m["HL-min-Fair-mAP"] == pytest.approx(100 * sum(fair) / 6)
    assert m["HL-min-Fair-Hit1"] == pytest.approx(50.0)  # q1's top clip 1 is Fair for one annotator
    assert m["HL-min-VeryGood-Hit1"] == pytest.approx(0.0)
    assert list(m)[-6:] == [
        "HL-min-Fair-mAP",
        "HL-min-Fair-Hit1",
        "HL-min-Good-mAP",
        "HL-min-Good-Hit1",
        "HL-min-VeryGood-mAP",
        "HL-min-VeryGood-Hit1",
    ]


def test_framescope_predictions_score_the_same(files, tmp_path, jsonl):
    ann, sub = files
    preds = jsonl(
        tmp_path / "p.jsonl",
        [
            {
                "id": "1",
                "windows": [[6, 10], [0, 4]],
                "scores": [0.5, 0.9],
                "saliency": [0.1, 0.9, 0.0, 0.5, 0.2],
            },
            {"id": "2", "windows": [[20, 40]], "scores": [0.9], "saliency": [1.0]},
        ],
    )
    assert (
        score("qvhighlights", [ann], [preds]).metrics == score("qvhighlights", [ann], [sub]).metrics
    )


def test_only_the_first_ten_listed_windows_count(tmp_path, jsonl):
    ann = jsonl(tmp_path / "gt.jsonl", [GT[1]])
    windows = [[100 + i, 101 + i, 1.0] for i in range(10)] + [[20, 60, 1.0]]
    sub = jsonl(tmp_path / "s.jsonl", [{"qid": 2, "pred_relevant_windows": windows}])
    assert score("qvhighlights", [ann], [sub]).metrics["MR-full-mAP"] == 0.0


def test_failed_sample_scores_zero_and_stays_in_the_denominator(files, tmp_path, jsonl):
    ann, _ = files
    preds = jsonl(
        tmp_path / "p.jsonl",
        [
            {"id": "1", "windows": [[0, 4], [6, 10]], "scores": [0.9, 0.5]},
            {"id": "2", "error": "oom"},
        ],
    )
    r = score("qvhighlights", [ann], [preds])
    assert r.metrics["MR-full-mAP"] == pytest.approx(50.0)
    assert r.metrics["MR-full-R1@0.5"] == pytest.approx(50.0)
    assert r.counts["no_window"] == 1
    assert "HL-min-Fair-mAP" not in r.metrics  # no saliency predicted at all


def test_windows_without_scores_rank_by_list_order(tmp_path, jsonl):
    ann = jsonl(tmp_path / "gt.jsonl", [GT[1]])
    preds = jsonl(tmp_path / "p.jsonl", [{"id": "2", "windows": [[100, 110], [20, 60]]}])
    # rank order: the miss first, then the hit → AP 0.5
    assert score("qvhighlights", [ann], [preds]).metrics["MR-full-mAP"] == pytest.approx(50.0)


def test_videomind_compat_adds_miou_r5_and_falls_back_on_empty_ranges(files):
    ann, sub = files
    m = score("qvhighlights", [ann], [sub], compat="videomind").metrics
    assert m["MR-full-mIoU"] == pytest.approx(75.0)
    assert m["MR-full-R1@0.3"] == pytest.approx(100.0)
    assert m["MR-full-R5@0.7"] == pytest.approx(50.0)
    # the empty middle range falls back to every query
    assert m["MR-middle-mAP"] == pytest.approx(m["MR-full-mAP"])


def test_missing_qid_is_an_error(files, tmp_path, jsonl):
    ann, _ = files
    sub = jsonl(tmp_path / "s.jsonl", SUBMISSION[:1])
    with pytest.raises(PredictionError, match="1 of 2 samples have no prediction"):
        score("qvhighlights", [ann], [sub])


def test_malformed_ground_truth(tmp_path, jsonl, files):
    _, sub = files
    bad = dict(GT[0], relevant_clip_ids=[0, 9], saliency_scores=[[1, 1, 1], [1, 1, 1]])
    ann = jsonl(tmp_path / "gt.jsonl", [GT[1], bad])
    with pytest.raises(AnnotationError, match=r"gt.jsonl:2: clip id 9 outside the 5 clips"):
        score("qvhighlights", [ann], [sub])
    test_split = {k: v for k, v in GT[0].items() if k != "relevant_windows"}
    ann = jsonl(tmp_path / "gt.jsonl", [test_split])
    with pytest.raises(AnnotationError, match=r":1: no 'relevant_windows'"):
        score("qvhighlights", [ann], [sub])


def test_submission_windows_need_scores(files, tmp_path, jsonl):
    ann, _ = files
    sub = jsonl(tmp_path / "s.jsonl", [{"qid": 1, "pred_relevant_windows": [[0, 4]]}])
    with pytest.raises(PredictionError, match=r"s.jsonl:1: windows must be \[start, end, score\]"):
        score("qvhighlights", [ann], [sub])
