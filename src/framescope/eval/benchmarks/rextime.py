"""ReXTime: reasoning across time — moment grounding plus multiple-choice answers.

Follows ``ReXTime/ReXTime`` ``evaluation/rextime_eval.py`` (+ ``utils.py``), moment-detr's code:

* The first *listed* window against the GT window it overlaps most (area IoU, first on ties),
  hull IoU. ``MR-full-mIoU``: mean IoU; ``MR-R1`` at 0.3:0.05:0.95 (``>=``), brief
  ``MR-full-R1@0.3`` and ``MR-full-R1@0.5``.
* ``VQA``: answer letter equal to the GT letter (exact string); ``VQA,mIoU@{0.3,0.5,0.7}``: answer
  right AND IoU ``>=`` t (brief: ``VQA,mIoU@0.5``). Which block is reported follows the
  submission: windows only, answers only, or both.
* The official script asserts that submission and GT qids match (missing ones are an error) and
  reports ``VQA`` as a fraction; here every number is a percentage. A query without a window
  (a failed sample; the official script would crash) scores IoU 0; an unreadable answer is wrong.

Files: ``rextime_val.jsonl`` (``{qid, query, duration, vid, relevant_windows, ans}``; the test
split's GT is hidden behind the leaderboard). Ids are the qids. Predictions: the official
submission lines ``{qid, pred_relevant_windows, ans}`` or framescope prediction JSON lines (answer
letters read with :func:`~framescope.text.choice`).

``framescope eval`` layout (the release's README): ``DATA_ROOT/rextime_val.jsonl``, the
QVHighlights videos in ``videos/<vid>.mp4`` (moment-detr's ``qvhilights_videos.tar.gz``) and the
ActivityNet ones in ``Anet_videos_15fps_short256/<vid>.mp4``, picked by each question's
``source``; ``--video-dir`` holds both. Prompt: :data:`~framescope.eval.prompts.GROUNDED_QA` with
the question and its four options.

``--compat videomind``: VideoMind's tables (:mod:`~framescope.eval.benchmarks.videomind`); a
submission's ``ans`` is read by ``check_ans`` too (letters case-insensitive); task = category.
There is no lmms-eval ReXTime task.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from framescope.errors import AnnotationError, PredictionError
from framescope.eval import prompts
from framescope.eval.benchmarks import videomind as vm
from framescope.eval.benchmarks.base import (
    Benchmark,
    Scores,
    Scoring,
    annotation_file,
    answer_text,
    check_coverage,
    pct,
    predicted_windows,
    records_or,
)
from framescope.eval.benchmarks.layout import EvalItem, Layout, Videos, question_items
from framescope.eval.files import read_json_records, read_jsonl
from framescope.eval.metrics import (
    first_window_iou,
    fraction_at_least,
    mean,
)
from framescope.text import choice
from framescope.types import Prediction, Window

R1_THRESHOLDS = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
GQA_THRESHOLDS = (0.3, 0.5, 0.7)


@dataclass(frozen=True)
class ReXSample:
    id: str
    windows: tuple[Window, ...]
    answer: str
    duration: float | None
    question: str = ""
    options: tuple[str, ...] = ()
    video: str = ""
    source: str = ""  # "qvhighlights_val" or ActivityNet's
    category: str = "unknown"  # VideoMind's task


def load_rextime(path: Path) -> list[ReXSample]:
    samples = []
    for line, obj in read_json_records(path):
        if not isinstance(obj, dict) or not {"qid", "relevant_windows", "ans"} <= set(obj):
            raise AnnotationError(
                "expected an object with 'qid', 'relevant_windows' and 'ans'", str(path), line
            )
        wins = obj["relevant_windows"]
        if (
            not isinstance(wins, list)
            or not wins
            or not all(
                isinstance(w, list)
                and len(w) >= 2
                and all(isinstance(x, (int, float)) for x in w[:2])
                for w in wins
            )
        ):
            raise AnnotationError(
                "'relevant_windows' must be a non-empty list of [start, end]", str(path), line
            )
        duration = obj.get("duration")
        samples.append(
            ReXSample(
                str(obj["qid"]),
                tuple(Window(float(w[0]), float(w[1])) for w in wins),
                str(obj["ans"]),
                float(duration) if isinstance(duration, (int, float)) else None,
                str(obj.get("question", "")),
                tuple(str(o) for o in obj.get("options") or ()),
                str(obj.get("vid", "")),
                str(obj.get("source", "")),
                str(obj.get("category", "unknown")),
            )
        )
    if not samples:
        raise AnnotationError("no queries in the file", str(path))
    return samples


@dataclass(frozen=True)
class ReXPredictions:
    windows: dict[str, list[Window]] | None
    answers: dict[str, str | None] | None


def read_submission(path: Path) -> ReXPredictions:
    rows = read_jsonl(path, PredictionError)
    if not rows:
        raise PredictionError("empty submission", str(path))
    first = rows[0][1]
    has_windows = isinstance(first, dict) and "pred_relevant_windows" in first
    has_answers = isinstance(first, dict) and "ans" in first
    windows: dict[str, list[Window]] = {}
    answers: dict[str, str | None] = {}
    for line, obj in rows:
        if not isinstance(obj, dict) or "qid" not in obj:
            raise PredictionError("expected an object with 'qid'", str(path), line)
        qid = str(obj["qid"])
        if has_windows:
            try:
                windows[qid] = [
                    Window(float(w[0]), float(w[1])) for w in obj["pred_relevant_windows"]
                ]
            except (KeyError, TypeError, ValueError, IndexError):
                raise PredictionError(
                    "'pred_relevant_windows' must be [[start, end, …], …]", str(path), line
                ) from None
        if has_answers:
            answers[qid] = None if obj.get("ans") is None else str(obj["ans"])
    return ReXPredictions(windows if has_windows else None, answers if has_answers else None)


def _from_framescope(records: dict[str, Prediction], videomind: bool) -> ReXPredictions:
    """The records' windows and answers: letters read with :func:`choice`, or (VideoMind) the
    replies themselves."""
    windows = {k: predicted_windows(p) for k, p in records.items()}
    answers: dict[str, str | None] = {}
    for k, p in records.items():
        text = vm.reply(p) if videomind else answer_text(p)
        answers[k] = text if videomind or text is None else choice(text, "ABCD").letter
    has_windows = any(windows.values())
    has_answers = any(p.answer is not None or p.response is not None for p in records.values())
    return ReXPredictions(windows if has_windows else None, answers if has_answers else None)


def _official(samples: Sequence[ReXSample], preds: ReXPredictions) -> Scores:
    metrics: dict[str, float] = {}
    breakdowns: dict[str, Any] = {}
    correct: dict[str, bool] = {}
    if preds.answers is not None:
        correct = {s.id: preds.answers.get(s.id) == s.answer for s in samples}
        metrics["VQA"] = pct(mean(correct.values()))
    if preds.windows is not None:
        ious = [first_window_iou(preds.windows.get(s.id, []), s.windows) for s in samples]
        r1 = {str(t): pct(fraction_at_least(ious, t)) for t in R1_THRESHOLDS}
        block: dict[str, Any] = {"MR-mIoU": pct(mean(ious)), "MR-R1": r1}
        brief = {
            "MR-full-mIoU": block["MR-mIoU"],
            "MR-full-R1@0.3": r1["0.3"],
            "MR-full-R1@0.5": r1["0.5"],
        }
        if preds.answers is not None:
            gqa = {
                f"VQA,mIoU@{t}": pct(
                    mean(iou >= t and correct[s.id] for iou, s in zip(ious, samples))
                )
                for t in GQA_THRESHOLDS
            }
            block["VQA,mIoU"] = gqa
            brief["VQA,mIoU@0.5"] = gqa["VQA,mIoU@0.5"]
        metrics.update(sorted(brief.items()))
        breakdowns["full"] = block
    counts = {"queries": len(samples)}
    if preds.windows is not None:
        counts["no_window"] = sum(not preds.windows.get(s.id) for s in samples)
    return Scores(metrics, breakdowns, counts)


def _videomind(samples: Sequence[ReXSample], preds: ReXPredictions) -> Scores:
    """VideoMind's tables; an answer (a reply, or a submission's ``ans``) is read by
    ``check_ans``, so letters compare case-insensitively."""
    windows, answers = preds.windows or {}, preds.answers
    rows = [
        vm.Sample(
            (s.category,),
            s.windows,
            windows.get(s.id) or None,
            None,
            (answers.get(s.id) or "") if answers is not None and s.id in answers else None,
            s.answer,
            len(s.options) or 4,
        )
        for s in samples
    ]
    return vm.tables(rows)


def _rules(
    data: list[ReXSample], preds: dict[str, Prediction] | ReXPredictions, how: Scoring
) -> Scores:
    videomind = how.compat == "videomind"
    if isinstance(preds, dict):
        present: Mapping[str, object] = preds
        preds = _from_framescope(preds, videomind)
    else:
        present = preds.windows if preds.windows is not None else preds.answers or {}
    notes = []
    if not videomind:
        why = "submission and GT qids must match (the official script asserts it)"
        notes = check_coverage((s.id for s in data), present, why)
    if preds.windows is None and preds.answers is None:
        raise PredictionError("rextime: the predictions hold neither windows nor answers")
    scores = (_videomind if videomind else _official)(data, preds)
    scores.notes = notes
    return scores


def _items(data: list[ReXSample], videos: Videos) -> list[EvalItem]:
    def video(s: ReXSample) -> str:  # QVHighlights videos or ActivityNet's, by source
        folder = LAYOUT.videos[0] if s.source.startswith("qvh") else LAYOUT.videos[1]
        return videos.file(s.video, candidates=(folder,))

    return question_items(data, prompts.grounded_qa, video)


LAYOUT = Layout(
    ("",),
    ("videos", "Anet_videos_15fps_short256"),
    "rextime_val.jsonl + videos/<vid>.mp4 (QVHighlights) + "
    "Anet_videos_15fps_short256/<vid>.mp4 (ActivityNet)",
)
HELP = "ReXTime's data/rextime_val.jsonl"

REXTIME = Benchmark(
    name="rextime",
    title="ReXTime",
    annotation_help=HELP,
    prediction_help="official submission JSON lines {qid, pred_relevant_windows, ans}, or framescope prediction JSON lines",
    layout=LAYOUT,
    load=annotation_file(
        load_rextime, ("rextime_val.jsonl", "rextime_test.jsonl"), "rextime", HELP
    ),
    rules=_rules,
    items=_items,
    compat=("videomind",),
    read_predictions=records_or(read_submission),
)
