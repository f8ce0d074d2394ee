"""Charades-STA and ActivityNet-Captions: loaders, hand-computed R@k/mIoU, compat variants."""

from __future__ import annotations

import pytest

from framescope.errors import AnnotationError, EvalError, MissingFileError, PredictionError
from framescope.eval.score import score

CHARADES = """\
vidA 0.0 10.0##a person opens a door.
vidA 20.0 30.0##a person sits down.

vidB 5.0 15.0##someone laughs.
vidB 5.0 15.0##someone laughs.
"""

PREDS = [
    # R1: [0, 5] IoU 0.5 (counts at 0.5: >=); R5 finds [0, 10]: 1.0
    {"id": "vidA#0", "windows": [[0, 5], [0, 10]]},
    # reversed window: IoU 0 officially (no swapping)
    {"id": "vidA#1", "windows": [[30, 20]]},
    # a failed sample: IoU 0, in the denominator
    {"id": "vidB#2", "error": "timeout"},
    # read from text: [5, 10] vs [5, 15] → 0.5
    {"id": "vidB#3", "response": "The moment is from 5 to 10 seconds."},
]


@pytest.fixture
def charades(tmp_path, jsonl):
    ann = tmp_path / "charades_sta_test.txt"
    ann.write_text(CHARADES)
    return ann, jsonl(tmp_path / "preds.jsonl", PREDS)


def test_official_hand_computed(charades):
    ann, preds = charades
    r = score("charades_sta", [ann], [preds])
    assert r.metrics["R1@0.3"] == pytest.approx(50.0)
    assert r.metrics["R1@0.5"] == pytest.approx(50.0)
    assert r.metrics["R1@0.7"] == pytest.approx(0.0)
    assert r.metrics["R5@0.5"] == pytest.approx(50.0)
    assert r.metrics["R5@0.7"] == pytest.approx(25.0)
    assert r.metrics["mIoU"] == pytest.approx(25.0)
    assert r.counts == {"queries": 4, "no_window": 1}


def test_folder_is_searched_for_the_file(charades):
    ann, preds = charades
    assert score("charades_sta", [ann.parent], [preds]).metrics["mIoU"] == pytest.approx(25.0)


def test_lmms_eval_swaps_reversed_reads_text_and_merges_duplicates(charades):
    ann, preds = charades
    r = score("charades_sta", [ann], [preds], compat="lmms-eval")
    # ious: 0.5, 1.0 (swapped), and vidB's two identical queries merged → the last one (0.5)
    assert set(r.metrics) == {"R1@0.3", "R1@0.5", "R1@0.7", "mIoU"}
    assert r.metrics["R1@0.5"] == pytest.approx(100.0)
    assert r.metrics["R1@0.7"] == pytest.approx(100 / 3)
    assert r.metrics["mIoU"] == pytest.approx(100 * 2 / 3)
    assert r.counts["queries"] == 3


def test_videomind_leaves_out_samples_without_windows(charades):
    ann, preds = charades
    r = score("charades_sta", [ann], [preds], compat="videomind")
    assert r.counts == {"Grounding (IoU): samples": 3, "Grounding (IoP): samples": 3}
    assert any("1 queries without a predicted window left out" in n for n in r.notes)
    assert r.metrics["R1@0.5"] == pytest.approx(200 / 3)
    assert r.metrics["R3@0.7"] == pytest.approx(100 / 3)
    assert r.metrics["mIoU"] == pytest.approx(100 / 3)
    # the IoP table beside it: [0, 5] and [5, 10] lie inside their GT (1); reversed: 0
    assert r.metrics["mIoP"] == pytest.approx(200 / 3)
    assert r.metrics["R1@0.7 (IoP)"] == pytest.approx(200 / 3)
    assert set(r.breakdowns) == {"Grounding (IoU)", "Grounding (IoP)"}


def test_every_query_needs_a_record(charades, tmp_path, jsonl):
    ann, _ = charades
    preds = jsonl(tmp_path / "few.jsonl", PREDS[:2])
    with pytest.raises(PredictionError, match="2 of 4 samples have no prediction"):
        score("charades_sta", [ann], [preds])


def test_malformed_annotation_names_file_and_line(tmp_path, jsonl):
    bad = tmp_path / "charades_sta_test.txt"
    bad.write_text("vidA 0.0 10.0##ok\nvidA zero 10.0##bad start\n")
    preds = jsonl(tmp_path / "p.jsonl", [{"id": "vidA#0"}])
    with pytest.raises(AnnotationError, match=r"charades_sta_test.txt:2: start is not a number"):
        score("charades_sta", [bad], [preds])
    bad.write_text("vidA 0.0 10.0 no separator\n")
    with pytest.raises(
        AnnotationError, match=r":1: expected '<video_id> <start> <end>##<sentence>'"
    ):
        score("charades_sta", [bad], [preds])


def test_malformed_predictions_name_file_and_line(charades, tmp_path):
    ann, _ = charades
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "vidA#0", "windows": [[0, 1]]}\n{"id": "vidA#1", "windows": [[0]]}\n')
    with pytest.raises(PredictionError, match=r"bad.jsonl:2: each window must be"):
        score("charades_sta", [ann], [bad])
    bad.write_text('{"id": "vidA#0"}\n{not json\n')
    with pytest.raises(PredictionError, match=r"bad.jsonl:2: invalid JSON"):
        score("charades_sta", [ann], [bad])


def test_missing_annotation_file_says_what_is_expected(tmp_path, jsonl):
    preds = jsonl(tmp_path / "p.jsonl", [{"id": "x"}])
    with pytest.raises(
        MissingFileError, match=r"charades_sta: expected the Charades-STA query file"
    ):
        score("charades_sta", [tmp_path], [preds])
    with pytest.raises(MissingFileError, match="does not exist"):
        score("charades_sta", [tmp_path / "nope.txt"], [preds])


def test_unknown_benchmark_and_compat(charades):
    ann, preds = charades
    with pytest.raises(EvalError, match="unknown benchmark"):
        score("charades", [ann], [preds])
    with pytest.raises(EvalError, match="no --compat lmms-eval variant"):
        score("qvhighlights", [ann], [preds], compat="lmms-eval")


def test_repeated_ids_keep_the_last_record(charades, tmp_path, jsonl):
    ann, _ = charades
    rows = [{"id": "vidA#0", "error": "oom"}, *PREDS]
    r = score("charades_sta", [ann], [jsonl(tmp_path / "p.jsonl", rows)])
    assert r.metrics["mIoU"] == pytest.approx(25.0)
    assert any("repeated" in n for n in r.notes)


ANET = {
    "v_a": {"duration": 50.0, "timestamps": [[0, 10], [20, 30]], "sentences": ["one", "two"]},
    "v_b": {"duration": 40.0, "timestamps": [[30, 10]], "sentences": ["reversed GT"]},
}


def test_activitynet_loader_and_scores(tmp_path, dump, jsonl):
    ann = dump(tmp_path / "val_2.json", ANET)
    preds = jsonl(
        tmp_path / "p.jsonl",
        [
            {"id": "v_a#0", "windows": [[0, 10]]},
            {"id": "v_a#1", "windows": [[25, 35]]},  # 5/15
            {"id": "v_b#0", "windows": [[10, 30]]},  # against a reversed GT: 0
        ],
    )
    r = score("activitynet", [ann], [preds])
    assert r.metrics["mIoU"] == pytest.approx(100 * (1 + 1 / 3) / 3)
    assert r.metrics["R1@0.3"] == pytest.approx(200 / 3)


def test_activitynet_malformed_entry_names_its_line(tmp_path, dump, jsonl):
    bad = dict(ANET)
    bad["v_c"] = {"duration": 5, "timestamps": [[0, 1]], "sentences": []}
    ann = dump(tmp_path / "val_2.json", bad)
    with pytest.raises(AnnotationError, match=r"val_2.json:\d+: v_c: 'timestamps' and 'sentences'"):
        score("activitynet", [ann], [jsonl(tmp_path / "p.jsonl", [{"id": "v_a#0"}])])
