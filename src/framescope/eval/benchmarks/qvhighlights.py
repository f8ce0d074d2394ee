"""QVHighlights moment retrieval (MR) and highlight detection (HL).

Follows moment-detr's ``standalone_eval/eval.py`` (and ``utils.py``), the script the
QVHighlights server runs:

* MR-mAP: per query, the first 10 *listed* windows, stable-sorted by score, greedily matched to
  the GT windows at IoU 0.5:0.05:0.95 (area-union IoU), VOC-2011 interpolated AP; mean over
  queries per threshold; ``average`` over thresholds. ``short``/``middle``/``long`` keep the GT
  windows with length in (0, 10], (10, 30], (30, 150] s and the queries that still have one;
  ``full`` keeps everything.
* MR-R1: the first *listed* window (not the best-scored) against the GT window it overlaps most
  (area IoU, first on ties), hull IoU, ``>=`` at 0.5:0.05:0.95.
* HL: GT saliency per 2-s clip (``int(duration / 2)`` clips, unlisted clips 0) binarised at 2/3/4
  (Fair/Good/VeryGood); HL-mAP = mean over queries and the 3 annotators of ``get_ap``;
  HL-Hit1 = the top-scored clip (first on ties) is positive for any annotator. Predicted scores
  are truncated or zero-padded to the clip count.
* Reproduced quirk: moment-detr's cross IoU does not clip window lengths, so a reversed window
  exactly as long as a GT window (or a zero-length window against a zero-length GT window) gets
  IoU 0/0 = NaN, which its matching treats as a hit at every threshold
  (:func:`~framescope.eval.metrics.detection_ap`). R1 is unaffected (such windows score 0 there).
* Brief names as the official ``brief`` block: ``MR-full-mAP``, ``MR-full-mAP@0.5``,
  ``MR-full-mAP@0.75``, ``MR-{short,middle,long}-mAP``, ``MR-full-R1@0.5``, ``MR-full-R1@0.7``,
  ``HL-min-{Fair,Good,VeryGood}-{mAP,Hit1}``; the nested official blocks are the breakdowns.

Where the official script cannot say: it asserts that every annotated qid has a submission
(missing ones are an error here too) and crashes on a query without predicted windows; here such
a query (a failed sample) scores AP 0 and IoU 0 and stays in the denominators. Predictions
without scores rank by list order. A missing saliency list counts as all zeros (the official
padding rule).

``framescope eval`` layout: ``DATA_ROOT/highlight_val_release.jsonl`` with the videos of
moment-detr's ``qvhilights_videos.tar.gz``, ``videos/<vid>.mp4``. Prompt: DynFrame's grounding
prompt with the query; a method's ranked windows are the moments, and each 2-s clip's saliency is
the best score of a window overlapping it (rank order without scores), so HL metrics are scored.

``--compat videomind`` (``videomind/eval/eval_qvhighlights.py``, from UniVTG): ``long`` is
(30, ∞) and an empty length range falls back to all queries; adds ``MR-{range}-mIoU``,
``MR-full-R1@0.3`` (R1 at 0.3:0.05:0.95) and ``MR-full-R5@{0.3,0.5,0.7}`` (the best pair among the
first 5 windows and the GT windows; the ``MR-R5`` block at 0.3:0.05:0.95). There is no lmms-eval
QVHighlights task.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from framescope.errors import AnnotationError, PredictionError
from framescope.eval import prompts
from framescope.eval.benchmarks.base import (
    Benchmark,
    Scores,
    Scoring,
    annotation_file,
    check_coverage,
    pct,
    predicted_windows,
    records_or,
)
from framescope.eval.benchmarks.layout import (
    EvalItem,
    Layout,
    Videos,
    question_items,
    trace_prediction,
)
from framescope.eval.files import read_jsonl
from framescope.eval.metrics import (
    QVH_THRESHOLDS,
    detection_ap,
    first_window_iou,
    fraction_at_least,
    hit_at_1,
    mean,
    ranking_ap,
    temporal_iou,
    temporal_iou_area,
)
from framescope.types import Prediction, Trace, Window

R1_THRESHOLDS_WIDE = (0.3, 0.35, 0.4, 0.45, *QVH_THRESHOLDS)
HL_LEVELS = ((2, "Fair"), (3, "Good"), (4, "VeryGood"))


@dataclass(frozen=True)
class QVHSample:
    id: str
    duration: float
    windows: tuple[Window, ...]
    labels: tuple[tuple[float, ...], ...] | None  # (clips, annotators) saliency 0–4, or None
    question: str = ""  # the moment query
    video: str = ""  # the 'vid' (YouTube id + clip span), the video file's stem
    options: tuple[str, ...] = ()


def _windows(value: object, path: Path, line: int, what: str) -> tuple[Window, ...]:
    if not isinstance(value, list) or not value:
        raise AnnotationError(f"'{what}' must be a non-empty list of [start, end]", str(path), line)
    out = []
    for w in value:
        if (
            not isinstance(w, list)
            or len(w) < 2
            or not all(isinstance(x, (int, float)) for x in w[:2])
        ):
            raise AnnotationError(f"bad window in '{what}': {w!r}", str(path), line)
        out.append(Window(float(w[0]), float(w[1])))
    return tuple(out)


def _saliency(
    obj: dict[str, Any], duration: float, path: Path, line: int
) -> tuple[tuple[float, ...], ...] | None:
    if "relevant_clip_ids" not in obj or "saliency_scores" not in obj:
        return None
    clips = int(duration / 2)
    ids, scores = obj["relevant_clip_ids"], obj["saliency_scores"]
    if not isinstance(ids, list) or not isinstance(scores, list) or len(ids) != len(scores):
        raise AnnotationError(
            "relevant_clip_ids and saliency_scores differ in length", str(path), line
        )
    if clips == 0:
        raise AnnotationError("saliency needs a duration of at least 2 s", str(path), line)
    table = [[0.0, 0.0, 0.0] for _ in range(clips)]
    for cid, row in zip(ids, scores):
        if not isinstance(cid, int) or not 0 <= cid < clips:
            raise AnnotationError(
                f"clip id {cid!r} outside the {clips} clips of the video", str(path), line
            )
        if not isinstance(row, list) or len(row) != 3:
            raise AnnotationError(f"saliency of clip {cid} must list 3 scores", str(path), line)
        table[cid] = [float(x) for x in row]
    return tuple(tuple(r) for r in table)


def load_qvhighlights(path: Path) -> list[QVHSample]:
    """moment-detr's ``highlight_{val,test}_release.jsonl``."""
    samples = []
    for line, obj in read_jsonl(path):
        if not isinstance(obj, dict) or "qid" not in obj or "duration" not in obj:
            raise AnnotationError("expected an object with 'qid' and 'duration'", str(path), line)
        if "relevant_windows" not in obj:
            raise AnnotationError(
                "no 'relevant_windows' (the test split's GT is hidden: score the val split)",
                str(path),
                line,
            )
        duration = obj["duration"]
        if not isinstance(duration, (int, float)) or not math.isfinite(duration):
            raise AnnotationError(f"bad duration {duration!r}", str(path), line)
        samples.append(
            QVHSample(
                str(obj["qid"]),
                float(duration),
                _windows(obj["relevant_windows"], path, line, "relevant_windows"),
                _saliency(obj, float(duration), path, line),
                str(obj.get("query", "")),
                str(obj.get("vid", "")),
            )
        )
    if not samples:
        raise AnnotationError("no queries in the file", str(path))
    return samples


def read_submission(path: Path) -> dict[str, Prediction]:
    """moment-detr submission lines ``{qid, pred_relevant_windows: [[s, e, score]…],
    pred_saliency_scores}``."""
    out = {}
    for line, obj in read_jsonl(path, PredictionError):
        if not isinstance(obj, dict) or "qid" not in obj:
            raise PredictionError("expected an object with 'qid'", str(path), line)
        windows, scores = [], []
        for w in obj.get("pred_relevant_windows") or []:
            if (
                not isinstance(w, list)
                or len(w) != 3
                or not all(isinstance(x, (int, float)) for x in w)
            ):
                raise PredictionError(
                    f"windows must be [start, end, score], got {w!r}", str(path), line
                )
            windows.append(Window(float(w[0]), float(w[1])))
            scores.append(float(w[2]))
        saliency = obj.get("pred_saliency_scores")
        if saliency is not None and not (
            isinstance(saliency, list) and all(isinstance(x, (int, float)) for x in saliency)
        ):
            raise PredictionError("pred_saliency_scores must be a list of numbers", str(path), line)
        out[str(obj["qid"])] = Prediction(
            str(obj["qid"]),
            windows,
            scores,
            saliency=[float(x) for x in saliency] if saliency else None,
        )
    return out


def _scored(pred: Prediction) -> list[tuple[Window, float]]:
    windows = predicted_windows(pred)
    if pred.error is None and pred.windows and pred.scores is not None:
        return list(zip(windows, pred.scores))
    return [(w, float(len(windows) - i)) for i, w in enumerate(windows)]  # rank order


InRange = list[tuple[QVHSample, tuple[Window, ...]]]


def _in_range(samples: Sequence[QVHSample], lo: float, hi: float, fallback: bool) -> InRange:
    if lo == 0 and math.isinf(hi):
        return [(s, s.windows) for s in samples]
    kept = [(s, tuple(w for w in s.windows if lo < w.duration <= hi)) for s in samples]
    kept = [(s, ws) for s, ws in kept if ws]
    return kept if kept or not fallback else [(s, s.windows) for s in samples]


def _r5_iou(windows: Sequence[Window], gts: Sequence[Window]) -> float:
    pairs = [(temporal_iou_area(p, g), p, g) for p in windows[:5] for g in gts]
    if not pairs:
        return 0.0
    top = max(iou for iou, _, _ in pairs)
    _, p, g = next(x for x in pairs if x[0] == top)
    return temporal_iou(p, g)


def _moment_retrieval(
    samples: Sequence[QVHSample], preds: Mapping[str, Prediction], videomind: bool
) -> tuple[dict[str, Any], list[str]]:
    ranges = [
        ("short", 0, 10),
        ("middle", 10, 30),
        ("long", 30, math.inf if videomind else 150),
        ("full", 0, math.inf),
    ]
    r1_thresholds = R1_THRESHOLDS_WIDE if videomind else QVH_THRESHOLDS
    # read once per query, not once per length range
    scored = {s.id: _scored(preds[s.id]) for s in samples}
    listed = {s.id: predicted_windows(preds[s.id]) for s in samples}
    blocks: dict[str, Any] = {}
    notes: list[str] = []
    for name, lo, hi in ranges:
        subset = _in_range(samples, lo, hi, fallback=videomind)
        if not subset:
            notes.append(f"no GT window in the {name} range: its MR metrics are left out")
            continue
        aps = [detection_ap(scored[s.id][:10], gts) for s, gts in subset]
        per_thr = [mean(ap[i] for ap in aps) for i in range(len(QVH_THRESHOLDS))]
        m_ap = {str(t): pct(v) for t, v in zip(QVH_THRESHOLDS, per_thr)}
        m_ap["average"] = pct(mean(per_thr))
        ious = [first_window_iou(listed[s.id], gts) for s, gts in subset]
        block: dict[str, Any] = {
            "MR-mAP": m_ap,
            "MR-R1": {str(t): pct(fraction_at_least(ious, t)) for t in r1_thresholds},
        }
        if videomind:
            block["MR-mIoU"] = pct(mean(ious))
            r5 = [_r5_iou(listed[s.id], gts) for s, gts in subset]
            block["MR-R5"] = {str(t): pct(fraction_at_least(r5, t)) for t in r1_thresholds}
        blocks[name] = block
    return blocks, notes


def _brief(blocks: dict[str, Any], videomind: bool) -> dict[str, float]:
    wanted: dict[str, tuple[str, str, str | None]] = {
        "MR-full-mAP": ("full", "MR-mAP", "average"),
        "MR-full-mAP@0.5": ("full", "MR-mAP", "0.5"),
        "MR-full-mAP@0.75": ("full", "MR-mAP", "0.75"),
        "MR-short-mAP": ("short", "MR-mAP", "average"),
        "MR-middle-mAP": ("middle", "MR-mAP", "average"),
        "MR-long-mAP": ("long", "MR-mAP", "average"),
        "MR-full-R1@0.5": ("full", "MR-R1", "0.5"),
        "MR-full-R1@0.7": ("full", "MR-R1", "0.7"),
    }
    if videomind:
        wanted.update(
            {f"MR-{r}-mIoU": (r, "MR-mIoU", None) for r in ("short", "middle", "long", "full")}
        )
        wanted["MR-full-R1@0.3"] = ("full", "MR-R1", "0.3")
        wanted.update({f"MR-full-R5@{t}": ("full", "MR-R5", str(t)) for t in (0.3, 0.5, 0.7)})
    out: dict[str, float] = {}
    for key in sorted(wanted):
        rng, block, sub = wanted[key]
        if rng in blocks:
            value = blocks[rng][block]
            out[key] = value if sub is None else value[sub]
    return out


def _highlights(
    samples: Sequence[QVHSample], preds: Mapping[str, Prediction]
) -> dict[str, dict[str, float]]:
    blocks = {}
    for level, name in HL_LEVELS:
        aps: list[float] = []
        hits: list[float] = []
        for s in samples:
            pred = preds[s.id]
            saliency = (pred.saliency or []) if pred.error is None else []
            labels = [[1.0 if v >= level else 0.0 for v in clip] for clip in s.labels or ()]
            hits.append(hit_at_1(saliency, labels))
            scores = (saliency + [0.0] * len(labels))[: len(labels)]
            aps.extend(ranking_ap([row[a] for row in labels], scores) for a in range(3))
        blocks[f"HL-min-{name}"] = {"HL-mAP": pct(mean(aps)), "HL-Hit1": pct(mean(hits))}
    return blocks


def _rules(data: list[QVHSample], preds: dict[str, Prediction], how: Scoring) -> Scores:
    videomind = how.compat == "videomind"
    why = "qids in the annotations and the submission must match (moment-detr asserts it)"
    notes = check_coverage((s.id for s in data), preds, why)
    metrics, breakdowns = {}, {}
    if any(predicted_windows(preds[s.id]) for s in data):
        blocks, range_notes = _moment_retrieval(data, preds, videomind)
        notes += range_notes
        metrics.update(_brief(blocks, videomind))
        breakdowns.update(blocks)
    else:
        notes.append("no predicted windows: MR metrics left out")
    if any(preds[s.id].saliency is not None for s in data):
        if any(s.labels is None for s in data):
            notes.append("annotations lack saliency scores: HL metrics left out")
        else:
            hl = _highlights(data, preds)
            breakdowns.update(hl)
            metrics.update(
                {f"{k}-{m.split('-')[1]}": v for k, b in hl.items() for m, v in b.items()}
            )
    counts = {
        "queries": len(data),
        "no_window": sum(not predicted_windows(preds[s.id]) for s in data),
    }
    return Scores(metrics, breakdowns, counts, notes)


def _items(data: list[QVHSample], videos: Videos) -> list[EvalItem]:
    return question_items(data, prompts.grounding, lambda s: videos.file(s.video))


def _prediction(trace: Trace, item: EvalItem) -> Prediction:
    """The method's ranked windows, and from them the saliency of each 2-s clip: the best score
    (rank order when the method gives none) of a window overlapping the clip, else 0."""
    pred = trace_prediction(trace, item)
    if pred.error is None and item.duration:
        ranked = _scored(pred)
        pred.saliency = [
            max(
                (score for w, score in ranked if w.start < 2 * c + 2 and w.end > 2 * c), default=0.0
            )
            for c in range(int(item.duration / 2))
        ]
    return pred


HELP = "moment-detr's highlight_val_release.jsonl"

QVHIGHLIGHTS = Benchmark(
    name="qvhighlights",
    title="QVHighlights",
    annotation_help=HELP,
    prediction_help=(
        "moment-detr submission JSON lines {qid, pred_relevant_windows, pred_saliency_scores}, "
        "or framescope prediction JSON lines (windows, scores, saliency)"
    ),
    layout=Layout(("",), ("videos",), "highlight_val_release.jsonl + videos/<vid>.mp4"),
    load=annotation_file(load_qvhighlights, ("highlight_val_release.jsonl",), "qvhighlights", HELP),
    rules=_rules,
    items=_items,
    compat=("videomind",),
    read_predictions=records_or(read_submission),
    prediction=_prediction,
)
