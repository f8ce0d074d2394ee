"""Hand-computed cases for every metric function and each official edge-case rule."""

from __future__ import annotations

import pytest

from framescope.eval import metrics as m
from framescope.types import Window as W


def test_iou_overlap_and_hull_union():
    assert m.temporal_iou(W(5, 15), W(0, 10)) == pytest.approx(5 / 15)
    assert m.temporal_iou(W(0, 10), W(0, 10)) == 1.0
    assert m.temporal_iou(W(2, 4), W(0, 10)) == pytest.approx(0.2)


@pytest.mark.parametrize(
    "pred",
    [W(8, 2), W(5, 5), W(10, 12), W(20, 30), W(float("nan"), 3)],
    ids=["reversed", "zero-length", "touching", "disjoint", "nan"],
)
def test_iou_degenerate_windows_score_zero(pred):
    assert m.temporal_iou(pred, W(0, 10)) == 0.0
    assert m.temporal_iou_area(pred, W(0, 10)) == 0.0


def test_iou_area_matches_hull_when_overlapping():
    assert m.temporal_iou_area(W(1.2, 8.1), W(0.0, 6.9)) == pytest.approx(
        m.temporal_iou(W(1.2, 8.1), W(0.0, 6.9))
    )


def test_iop_nextgqa_rules():
    assert m.temporal_iop(W(2, 4), W(0, 10)) == 1.0
    assert m.temporal_iop(W(8, 12), W(0, 10)) == pytest.approx(0.5)
    assert m.temporal_iop(W(5, 5), W(0, 10)) == 1.0  # zero-length inside: 1
    assert m.temporal_iop(W(10, 10), W(0, 10)) == 1.0  # ends included
    assert m.temporal_iop(W(11, 11), W(0, 10)) == 0.0
    assert m.temporal_iop(W(6, 4), W(0, 10)) == 0.0  # reversed: 0
    assert m.temporal_iop(W(20, 30), W(0, 10)) == 0.0
    # nncore's IoF (VideoMind): a zero-length prediction is 0/0 → 0


def test_max_over_gt_windows_and_independent_maxima():
    gts = [W(0, 2), W(10, 20)]
    assert m.max_iou(W(9, 19), gts) == pytest.approx(9 / 11)
    # IoP max and IoU max may come from different GT windows
    gts = [W(0, 100), W(4, 6)]
    pred = W(3, 7)
    assert m.max_iou(pred, gts) == pytest.approx(0.5)  # with (4, 6)
    assert m.max_iou(pred, gts, m.temporal_iop) == 1.0  # with (0, 100)
    assert m.max_iou(pred, []) == 0.0


def test_recall_at_k_uses_list_order():
    preds = [W(50, 60), W(0, 10)]
    assert m.best_iou_at_k(preds, [W(0, 10)], 1) == 0.0
    assert m.best_iou_at_k(preds, [W(0, 10)], 2) == 1.0
    assert m.best_iou_at_k([], [W(0, 10)], 5) == 0.0


def test_first_window_iou_scores_only_the_first_listed_window():
    gts = [W(0, 4), W(6, 10)]
    # [2, 8] overlaps both GT windows by 2 s (area IoU 2/8 each): the first GT window, hull 2/8
    assert m.first_window_iou([W(2, 8), W(6, 10)], gts) == pytest.approx(0.25)
    assert m.first_window_iou([W(50, 60), W(0, 4)], gts) == 0.0  # never re-ranked
    assert m.first_window_iou([], gts) == 0.0


def test_thresholds_are_inclusive():
    assert m.fraction_at_least([0.5, 0.4999999], 0.5) == 0.5


def test_accuracy_denominator_rules():
    outcomes = [True, False, None]
    assert m.accuracy(outcomes, "wrong") == pytest.approx(1 / 3)
    assert m.accuracy(outcomes, "exclude") == pytest.approx(1 / 2)
    with pytest.raises(ValueError):
        m.accuracy([None], "exclude")
    with pytest.raises(ValueError):
        m.mean([])


def test_macro_vs_micro():
    groups = {"a": [True, True, True, False], "b": [False]}
    micro = m.mean(x for v in groups.values() for x in v)
    macro = m.mean(m.mean(v) for v in groups.values())
    assert micro == pytest.approx(3 / 5)
    assert macro == pytest.approx((0.75 + 0.0) / 2)


def test_interpolated_ap_voc2011():
    # precision made non-increasing from the right, summed over recall changes
    assert m.interpolated_ap([1, 0.5, 2 / 3], [0.5, 0.5, 1.0]) == pytest.approx(0.5 + 0.5 * 2 / 3)


def test_detection_ap_sorts_by_score_stably_and_matches_greedily():
    gts = [W(0, 10), W(20, 30)]
    p1, p2, p3 = (W(0, 10), 0.9), (W(1, 10), 0.8), (W(20, 30), 0.7)
    # p2 overlaps the GT p1 already took (IoU 0.9): a false positive at every threshold
    expected = 0.5 * 1 + 0.5 * (2 / 3)
    assert m.detection_ap([p3, p1, p2], gts) == pytest.approx([expected] * 10)
    # in list order it would be p3, p1 (both TP) then p2: AP 1 — score order is what counts
    assert m.detection_ap([p3, p1, p2], gts)[0] != pytest.approx(1.0)
    # equal scores keep list order
    bad, good = (W(40, 50), 0.5), (W(0, 10), 0.5)
    assert m.detection_ap([bad, good], [W(0, 10)])[0] == pytest.approx(0.5)
    assert m.detection_ap([good, bad], [W(0, 10)])[0] == pytest.approx(1.0)
    assert m.detection_ap([], gts) == [0.0] * 10


def test_detection_ap_threshold_boundary():
    # IoU exactly 0.5 is a match at 0.5 and a miss at 0.55
    aps = m.detection_ap([(W(20, 40), 1.0)], [W(20, 60)])
    assert aps[0] == 1.0 and aps[1:] == [0.0] * 9


def test_detection_ap_reproduces_moment_detrs_nan_match():
    # len(pred) + len(gt) == 0 makes moment-detr's cross IoU 0/0 = NaN, which sorts first and
    # passes every threshold: a reversed window as long as the GT window "matches" it
    assert m.detection_ap([(W(14, 10), 1.0)], [W(0, 4)]) == [1.0] * 10
    assert m.detection_ap([(W(7, 7), 1.0)], [W(3, 3)]) == [1.0] * 10
    # any other reversed or zero-length window is a miss
    assert m.detection_ap([(W(14, 11), 1.0)], [W(0, 4)]) == [0.0] * 10
    assert m.detection_ap([(W(2, 2), 1.0)], [W(0, 4)]) == [0.0] * 10


def test_ranking_ap_hand_computed():
    assert m.ranking_ap([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.6]) == pytest.approx((1 + 2 / 3) / 2)
    # a tie recalling both positives at once is one recall level
    assert m.ranking_ap([1, 1, 0], [0.5, 0.5, 0.5]) == pytest.approx(2 / 3)
    assert m.ranking_ap([1, 0, 1], [0.9, 0.5, 0.5]) == pytest.approx((2 / 3 + 1) / 2)
    assert m.ranking_ap([0, 0], [0.1, 0.2]) == 0.0
    assert m.ranking_ap([1, 1], [0.1, 0.2]) == 1.0


def test_hit_at_1_first_max_and_out_of_range():
    labels = [[0, 0, 0], [1, 0, 0], [0, 0, 0]]
    assert m.hit_at_1([1, 3, 3], labels) == 1  # first of the tied maxima: clip 1
    assert m.hit_at_1([0, 0, 0, 9], labels) == 0  # predicted clip beyond the video
    assert m.hit_at_1([], labels) == 0


def test_cgbench_merged_iou():
    assert m.merged_intervals_iou([W(0, 5), W(3, 8)], [W(4, 10)]) == pytest.approx(4 / 10)
    assert m.merged_intervals_iou([W(10, 20), W(15, 40)], [W(10, 20), W(30, 40)]) == pytest.approx(
        20 / 30
    )
    assert m.merged_intervals_iou([], [W(0, 1)]) == 0.0
