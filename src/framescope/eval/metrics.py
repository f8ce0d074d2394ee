"""Metric functions, written once and matched to the official evaluation scripts.

Everything here is pure: windows in absolute seconds (:class:`~framescope.types.Window`), values
as fractions in ``[0, 1]`` (benchmark modules report percentages). The RL rewards import these.

Edge-case rules, each taken from the official code and pinned by a hand-computed test:

* **IoU** (:func:`temporal_iou`) is ``intersection / (max(ends) - min(starts))`` — the "hull"
  union of moment-detr's paired IoU, NExT-GQA's ``get_tIoU``, VSLNet and 2D-TAN. It equals the
  usual IoU whenever the windows overlap, and is 0 when they do not overlap with positive length,
  so a reversed window (start > end) or a zero-length one always scores 0 — no swapping, no
  clipping. :func:`temporal_iou_area` is the ``inter / (len_a + len_b - inter)`` form of
  moment-detr's cross IoU (mAP matching, choice of the GT window for R1) and nncore; it agrees up
  to floating-point rounding and has the same edge cases.
* **IoP** (:func:`temporal_iop`, NExT-GQA): ``intersection / prediction length``; a zero-length
  prediction scores 1 when it lies inside the GT window (ends included) and 0 otherwise; a
  reversed prediction scores 0.
* Several GT windows: take the max over them (:func:`max_iou`); IoU and IoP maxima are taken
  independently (NExT-GQA).
* **R@k** (:func:`best_iou_at_k`): the best IoU among the first ``k`` predictions *in list order*
  (never re-sorted by score); thresholds compare with ``>=`` (:func:`fraction_at_least`).
  moment-detr's R1 (QVHighlights, ReXTime: :func:`first_window_iou`) scores the first listed
  window against the GT window of highest area IoU (the first on ties) with the hull IoU.
* **QVHighlights mAP** (:func:`detection_ap`): the first 10 listed windows, stable-sorted by
  score, greedy matching to the unmatched GT window of highest IoU, VOC-2011 interpolated AP
  (:func:`interpolated_ap`). **HL-mAP** uses :func:`ranking_ap` (the ``get_ap`` of the video2gif
  evaluation on top of scikit-learn's precision-recall curve), **HIT@1** :func:`hit_at_1`.
* CG-Bench merges overlapping windows before measuring (:func:`merged_intervals_iou`); VideoMind's
  float32 nncore variants live in :mod:`framescope.eval.benchmarks.videomind`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable, Sequence

from framescope.types import Window

IoU = Callable[[Window, Window], float]

# moment-detr's thresholds: float(f"{e:.2f}") for e in np.linspace(0.5, 0.95, 10)
QVH_THRESHOLDS = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


def temporal_iou(pred: Window, gt: Window) -> float:
    """Intersection over the hull ``[min(starts), max(ends)]``; 0 unless they overlap (> 0 s)."""
    inter = min(pred.end, gt.end) - max(pred.start, gt.start)
    if not inter > 0:  # also catches NaN
        return 0.0
    return inter / (max(pred.end, gt.end) - min(pred.start, gt.start))


def temporal_iou_area(pred: Window, gt: Window) -> float:
    """``inter / (len(pred) + len(gt) - inter)`` (moment-detr cross IoU, nncore); same edge cases."""
    inter = min(pred.end, gt.end) - max(pred.start, gt.start)
    if not inter > 0:
        return 0.0
    return inter / (pred.duration + gt.duration - inter)


def temporal_iop(pred: Window, gt: Window) -> float:
    """Intersection over the prediction's length, with NExT-GQA's rules for degenerate windows."""
    if pred.start == pred.end:
        return 1.0 if gt.start <= pred.start <= gt.end else 0.0
    if not pred.end > pred.start:
        return 0.0
    inter = min(pred.end, gt.end) - max(pred.start, gt.start)
    return max(0.0, inter) / pred.duration


def max_iou(pred: Window, gts: Sequence[Window], iou: IoU = temporal_iou) -> float:
    """Best overlap of one prediction with any GT window (0 when there are none)."""
    return max((iou(pred, g) for g in gts), default=0.0)


def best_iou_at_k(
    preds: Sequence[Window], gts: Sequence[Window], k: int, iou: IoU = temporal_iou
) -> float:
    """Best overlap among the first ``k`` predictions in list order (0 when there are none)."""
    return max((max_iou(p, gts, iou) for p in preds[:k]), default=0.0)


def first_window_iou(preds: Sequence[Window], gts: Sequence[Window]) -> float:
    """moment-detr's R1 IoU: the first listed prediction's hull IoU with the GT window it
    overlaps most by area IoU (the first on ties); 0 when there is no prediction."""
    if not preds:
        return 0.0
    areas = [temporal_iou_area(preds[0], g) for g in gts]
    return temporal_iou(preds[0], gts[areas.index(max(areas))])


def mean(values: Iterable[float]) -> float:
    """Arithmetic mean; raises ``ValueError`` on no values (callers decide what empty means)."""
    vals = list(values)
    if not vals:
        raise ValueError("mean of no values")
    return sum(vals) / len(vals)


def fraction_at_least(values: Sequence[float], threshold: float) -> float:
    """Fraction of values ``>= threshold`` (R@k at an IoU threshold)."""
    return mean(1.0 if v >= threshold else 0.0 for v in values)


def accuracy(outcomes: Sequence[bool | None], unparseable: str = "wrong") -> float:
    """Fraction correct. ``None`` marks an unparseable answer: ``"wrong"`` keeps it in the
    denominator (MLVU, LVBench, lmms-eval), ``"exclude"`` drops it (Video-MME's official script).
    Raises ``ValueError`` when nothing is left to count."""
    if unparseable not in ("wrong", "exclude"):
        raise ValueError(f"unparseable must be 'wrong' or 'exclude', not {unparseable!r}")
    kept = [o for o in outcomes if o is not None or unparseable == "wrong"]
    return mean(1.0 if o else 0.0 for o in kept)


def interpolated_ap(precision: Sequence[float], recall: Sequence[float]) -> float:
    """VOC-2011 interpolated average precision (ActivityNet / moment-detr)."""
    prec = [0.0, *precision, 0.0]
    rec = [0.0, *recall, 1.0]
    for i in range(len(prec) - 2, -1, -1):
        prec[i] = max(prec[i], prec[i + 1])
    return sum((rec[i] - rec[i - 1]) * prec[i] for i in range(1, len(rec)) if rec[i] != rec[i - 1])


def _moment_detr_cross_iou(pred: Window, gt: Window) -> float:
    """moment-detr's ``compute_temporal_iou_batch_cross`` for one pair, NaN included: the
    intersection is clipped at 0 but the lengths are not, so ``len(pred) + len(gt) == 0`` (two
    zero-length windows, or a reversed prediction exactly as long as the GT window) gives 0/0."""
    inter = max(0.0, min(pred.end, gt.end) - max(pred.start, gt.start))
    union = pred.duration + gt.duration - inter
    return math.nan if union == 0 else inter / union


def detection_ap(
    preds: Sequence[tuple[Window, float]],
    gts: Sequence[Window],
    thresholds: Sequence[float] = QVH_THRESHOLDS,
) -> list[float]:
    """Average precision of scored windows against GT windows, one value per IoU threshold.

    Predictions are stable-sorted by decreasing score (ties keep list order); each takes the
    unmatched GT window of highest IoU (ties: the later GT window, as ``argsort()[::-1]`` does)
    if that IoU reaches the threshold, else it is a false positive. ``gts`` must not be empty.

    Official quirk, reproduced: an IoU of 0/0 (see :func:`_moment_detr_cross_iou`) is NaN there,
    sorts first and fails no ``<`` test, so such a prediction matches that GT window at every
    threshold.
    """
    if not gts:
        raise ValueError("detection_ap needs at least one GT window")
    if not preds:
        return [0.0] * len(thresholds)
    order = sorted(range(len(preds)), key=lambda i: -preds[i][1])
    ious = [[_moment_detr_cross_iou(preds[i][0], g) for g in gts] for i in order]

    def rank(row: list[float], j: int) -> tuple[float, float, int]:
        return (0.0, 0.0, -j) if math.isnan(row[j]) else (1.0, -row[j], -j)

    gt_orders = [sorted(range(len(gts)), key=functools.partial(rank, row)) for row in ious]
    aps = []
    for thr in thresholds:
        locked = [False] * len(gts)
        tp = 0
        precision, recall = [], []
        for k, (row, gt_order) in enumerate(zip(ious, gt_orders), start=1):
            for j in gt_order:
                if row[j] < thr:
                    break
                if not locked[j]:
                    locked[j] = True
                    tp += 1
                    break
            precision.append(tp / k)
            recall.append(tp / len(gts))
        aps.append(interpolated_ap(precision, recall))
    return aps


def ranking_ap(labels: Sequence[float], scores: Sequence[float]) -> float:
    """QVHighlights HL-mAP per query and annotator: ``get_ap(y_true, y_predict)`` of the official
    evaluation (scikit-learn ``precision_recall_curve``, precision made non-increasing towards
    higher recall, then the *mean* of the precision at each distinct recall level).

    All-negative labels give 0, all-positive 1. Tied scores form one threshold, so a tie that
    recalls several positives at once counts as one recall level."""
    if len(labels) != len(scores):
        raise ValueError(f"{len(labels)} labels but {len(scores)} scores")
    if not labels:
        raise ValueError("ranking_ap of no items")
    if len(set(labels)) == 1:
        return 0.0 if labels[0] == 0 else 1.0
    if set(labels) != {0, 1}:
        raise ValueError("labels must be 0 or 1")
    order = sorted(range(len(scores)), key=scores.__getitem__, reverse=True)
    positives = sum(1 for x in labels if x == 1)
    points = []  # (precision, recall) at each distinct score, from the highest score down
    tp = fp = 0
    for rank, i in enumerate(order):
        if labels[i] == 1:
            tp += 1
        else:
            fp += 1
        if rank + 1 == len(order) or scores[order[rank + 1]] != scores[i]:
            points.append((tp / (tp + fp), tp / positives))
    # scikit-learn order: lowest threshold (highest recall) first, then the (1, 0) end point
    curve = [*reversed(points), (1.0, 0.0)]
    best = 0.0
    total, count = 0.0, 0
    for idx, (prec, rec) in enumerate(curve[:-1]):
        best = max(best, prec)
        if rec != curve[idx + 1][1]:
            total += best
            count += 1
    return total / count


def hit_at_1(saliency: Sequence[float], labels: Sequence[Sequence[float]]) -> float:
    """QVHighlights HIT@1: 1 if the clip with the highest predicted score (the first one on ties)
    is positive for any annotator. ``labels`` is ``(num_clips, annotators)``; a predicted clip
    beyond the video scores 0."""
    if not saliency:
        return 0.0
    best = max(range(len(saliency)), key=lambda i: (saliency[i], -i))
    return max(labels[best]) if best < len(labels) else 0.0


def merge_intervals(windows: Sequence[Window]) -> list[Window]:
    """CG-Bench's ``merge_intervals``: sort by start, merge while ``next.start <= last.end``."""
    merged: list[Window] = []
    for w in sorted(windows, key=lambda w: w.start):
        if merged and w.start <= merged[-1].end:
            merged[-1] = Window(merged[-1].start, max(merged[-1].end, w.end))
        else:
            merged.append(w)
    return merged


def merged_intervals_iou(preds: Sequence[Window], gts: Sequence[Window]) -> float:
    """CG-Bench's ``calculate_intervals_iou``: merge each list, total lengths, pairwise summed
    intersections; 0 when the union is not positive."""
    a, b = merge_intervals(preds), merge_intervals(gts)
    inter = sum(max(0.0, min(x.end, y.end) - max(x.start, y.start)) for x in a for y in b)
    union = sum(w.duration for w in a) + sum(w.duration for w in b) - inter
    return inter / union if union > 0 else 0.0
