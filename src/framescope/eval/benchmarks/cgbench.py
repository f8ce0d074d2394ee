"""CG-Bench: clue-grounded multiple-choice questions on long videos.

Follows the CG-Bench authors' evaluation: ``CG-Bench/CG-Bench`` ``run/utils.py`` (reading
answers) and the scorer they contributed to VLMEvalKit, ``vlmeval/dataset/utils/cgbench.py``
(``post_process`` and ``get_dimention_rating_mcq_grouding``):

* Three per-question scores: ``long_acc`` (answer on the whole video, 0/1), ``clue_acc`` (answer
  given the clue clips, 0/1) and ``miou`` (IoU of the predicted clue intervals with the GT ones,
  both lists merged first: :func:`~framescope.eval.metrics.merged_intervals_iou`). An answer or
  interval list that cannot be read scores -1 and is *dropped from every metric*.
* ``long_acc``, ``clue_acc``, ``miou``: means of the kept scores. ``CRR`` = min(long, clue) / clue.
  ``rec@iou``: share of questions with miou ``>`` t (strictly), averaged over t = 0.1…0.5.
  ``acc@iou``: questions with miou ``>`` t and a right long-video answer, over the questions that
  have both scores, averaged over t. Breakdowns by duration (minutes, bins (−∞,10], (10,20], …,
  (60, ∞)), domain and sub-category where the annotations carry them. The script reports
  fractions; here they are percentages.
* Answers: a ```` ```json {"result": "X"}``` ```` block, else every standalone capital A–H (right
  when the answer is among them). Intervals: the json ``result`` list (all values ≤ 1 are scaled
  by the duration), else all numbers paired.

Files: ``cgbench.json`` (list of ``{qid, video_uid, question, choices, right_answer,
clue_intervals, duration, domain, sub_category, …}``) or the per-question folder written by
``run/save_as_jsons.py``. Ids are the qids.

Predictions: framescope prediction JSON lines — record ``<qid>``: ``answer``/``response`` is the
long-video answer and ``windows`` the clue intervals (the runner reads them from the model's text
with :func:`~framescope.text.cgbench_spans`; a record without windows has no miou, which
the official rule treats like an unreadable one: left out); record ``<qid>#clue``: the answer
given the clue clips. Or the official per-question result files (``results:
{"<task_mode>_<model>…": {"result": score}}``, one run per folder), whose scores are taken as
they are.

``framescope eval`` layout: ``DATA_ROOT/cgbench.json`` with the release's videos
``cg_videos_720p/<video_uid>.mp4``. Prompt: :data:`~framescope.eval.prompts.GROUNDED_QA` with the
question and its choices — one run gives the long-video answer and the clue intervals (read from
the reply with CG-Bench's reader, else the windows a method fetched); the ``#clue`` run (answering
from the clue clips) is not made, so ``clue_acc`` and ``CRR`` are left out.

``--compat videomind`` (``videomind/eval/eval_auto.py``, CG-Bench mode): the first window only,
IoU = summed overlaps / (window + summed GT − summed overlaps) without merging, thresholds
0.1…0.5 with ``>=``; ``long-acc.`` with ``check_ans`` (unreadable answers stay, as wrong);
``rec.@IoU`` / ``acc.@IoU`` averaged over the thresholds, grounding over samples with a window.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from framescope.errors import AnnotationError, MissingFileError, PredictionError
from framescope.eval import prompts
from framescope.eval.benchmarks.base import (
    Benchmark,
    Read,
    Scores,
    Scoring,
    answer_text,
    extra_note,
    framescope_records,
    pct,
)
from framescope.eval.benchmarks.layout import (
    EvalItem,
    Layout,
    Videos,
    question_items,
    trace_prediction,
)
from framescope.eval.files import is_framescope_jsonl, read_json, read_json_records
from framescope.eval.metrics import (
    fraction_above,
    fraction_at_least,
    mean,
    merged_intervals_iou,
    summed_intervals_iou,
)
from framescope.text import cgbench_choice, cgbench_spans, videomind_choice
from framescope.types import Prediction, Trace, Window

THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5)
DURATION_BINS = (
    (10, "0 ~ 10"),
    (20, "10 ~ 20"),
    (30, "20 ~ 30"),
    (40, "30 ~ 40"),
    (50, "40 ~ 50"),
    (60, "50 ~ 60"),
    (math.inf, "60+"),
)
MODES = ("long_acc", "clue_acc", "miou")


@dataclass(frozen=True)
class CGSample:
    id: str
    right_answer: str
    num_choices: int
    windows: tuple[Window, ...]  # the clue intervals
    duration: float | None
    domain: str | None
    sub_category: str | None
    video: str = ""  # video_uid, the file stem
    question: str = ""
    options: tuple[str, ...] = ()  # the choices

    @property
    def duration_bin(self) -> str | None:
        if self.duration is None:
            return None
        return next(name for top, name in DURATION_BINS if self.duration / 60 <= top)


@dataclass(frozen=True)
class CGScore:
    """Per-question scores; ``None`` = not run, -1 = unreadable (both left out)."""

    long_acc: float | None = None
    clue_acc: float | None = None
    miou: float | None = None


def _clues(value: object, path: Path, line: int) -> tuple[Window, ...]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise AnnotationError("clue_intervals is not JSON", str(path), line) from None
    if not isinstance(value, list) or not all(isinstance(w, list) and len(w) == 2 for w in value):
        raise AnnotationError("clue_intervals must be [[start, end], …]", str(path), line)
    return tuple(Window(float(a), float(b)) for a, b in value)


REQUIRED = {"qid", "choices", "right_answer", "clue_intervals"}


def _sample(item: object, path: Path, line: int) -> CGSample:
    if not isinstance(item, dict) or not set(item) >= REQUIRED:
        raise AnnotationError(
            "needs qid, choices, right_answer and clue_intervals", str(path), line
        )
    duration = item.get("duration")
    return CGSample(
        str(item["qid"]),
        str(item["right_answer"]),
        len(item["choices"]),
        _clues(item["clue_intervals"], path, line),
        float(duration) if isinstance(duration, (int, float)) else None,
        item.get("domain"),
        item.get("sub_category"),
        str(item.get("video_uid", "")),
        str(item.get("question", "")),
        tuple(str(c) for c in item["choices"]),
    )


def load_cgbench(paths: Sequence[Path]) -> list[CGSample]:
    if not paths:
        raise MissingFileError("cgbench: expected cgbench.json (pass it with --annotations)")
    samples = []
    for p in paths:
        if not p.exists():
            raise MissingFileError(f"cgbench: {p} does not exist (expected cgbench.json)")
        if p.is_dir():
            files = sorted(p.glob("*.json"))
            if not files:
                raise MissingFileError(
                    f"cgbench: expected cgbench.json or per-question JSON files in {p}"
                )
            samples += [_sample(read_json(f), f, 1) for f in files]
        else:
            samples += [_sample(item, p, line) for line, item in read_json_records(p)]
    return samples


def _read_official(folder: Path) -> dict[str, CGScore]:
    out = {}
    for f in sorted(folder.glob("*.json")):
        data = read_json(f, PredictionError)
        results = data.get("results") if isinstance(data, dict) else None
        if not isinstance(results, dict) or "qid" not in data:
            raise PredictionError("expected a question file with 'qid' and 'results'", str(f), 1)
        found: dict[str, float] = {}
        for key, entry in results.items():
            mode = next((m for m in MODES if key.startswith(m + "_")), None)
            if mode is None:
                continue
            if mode in found:
                raise PredictionError(
                    f"two {mode} runs ({key} …): keep one run per folder", str(f), 1
                )
            value = entry.get("result") if isinstance(entry, dict) else None
            found[mode] = -1.0 if value is None else float(value)
        out[str(data["qid"])] = CGScore(**found)
    if not out:
        raise PredictionError(f"cgbench: no question result files in {folder}")
    return out


def _scores(samples: Sequence[CGSample], records: dict[str, Prediction]) -> dict[str, CGScore]:
    """Official per-question scores from framescope records."""
    out = {}
    for s in samples:
        pred, clue = records.get(s.id), records.get(f"{s.id}#clue")
        long_acc = _answer_score(pred, s) if pred is not None else None
        clue_acc = _answer_score(clue, s) if clue is not None else None
        miou = None
        if pred is not None:
            if pred.error is not None:
                miou = -1.0
            elif pred.windows:
                miou = merged_intervals_iou(pred.windows, s.windows)
        out[s.id] = CGScore(long_acc, clue_acc, miou)
    return out


def _answer_score(pred: Prediction, s: CGSample) -> float:
    text = answer_text(pred)
    read = cgbench_choice(text) if text is not None else None
    if read is None or not read.valid:
        return -1.0
    return 1.0 if s.right_answer in read.letters else 0.0


def _rating(samples: Sequence[CGSample], scores: dict[str, CGScore]) -> dict[str, float]:
    kept = {m: {s.id: getattr(scores[s.id], m) for s in samples if s.id in scores} for m in MODES}
    kept = {m: {k: v for k, v in d.items() if v is not None and v != -1} for m, d in kept.items()}
    out = {}
    for m in MODES:
        if kept[m]:
            out[m] = pct(mean(kept[m].values()))
    if kept["long_acc"] and kept["clue_acc"]:
        long_, clue = mean(kept["long_acc"].values()), mean(kept["clue_acc"].values())
        out["CRR"] = pct(min(long_, clue) / clue) if clue != 0 else 0.0
    if kept["miou"]:
        both = set(kept["miou"]) & set(kept["long_acc"])
        if both:
            out["acc@iou"] = pct(
                mean(
                    sum(1 for q in both if kept["miou"][q] > t and kept["long_acc"][q] == 1)
                    / len(both)
                    for t in THRESHOLDS
                )
            )
        out["rec@iou"] = pct(
            mean(fraction_above(list(kept["miou"].values()), t) for t in THRESHOLDS)
        )
    return out


def _official(
    samples: Sequence[CGSample], scores: dict[str, CGScore]
) -> tuple[dict[str, float], dict[str, Any]]:
    metrics = _rating(samples, scores)
    breakdowns: dict[str, Any] = {}
    for table, attr in (
        ("duration", "duration_bin"),
        ("domain", "domain"),
        ("sub_category", "sub_category"),
    ):
        groups: dict[str, list[CGSample]] = {}
        for s in samples:
            if getattr(s, attr) is not None:
                groups.setdefault(getattr(s, attr), []).append(s)
        if groups:
            breakdowns[table] = {g: _rating(subset, scores) for g, subset in groups.items()}
    return metrics, breakdowns


def _videomind(
    samples: Sequence[CGSample], records: dict[str, Prediction]
) -> tuple[dict[str, float], dict[str, Any]]:
    ious: dict[str, float] = {}
    answers: dict[str, bool] = {}
    for s in samples:
        pred = records.get(s.id)
        if pred is None:
            continue
        if pred.windows and pred.error is None:
            ious[s.id] = summed_intervals_iou(pred.windows[0], s.windows)
        text = answer_text(pred)
        if text is not None or pred.error is not None:
            read = videomind_choice(text, s.num_choices) if text is not None else None
            answers[s.id] = bool(read and read.valid and read.letter == s.right_answer.upper())
    metrics = {}
    if ious:
        values = list(ious.values())
        metrics.update({f"R1@{t}": pct(fraction_at_least(values, t)) for t in THRESHOLDS})
        metrics["mIoU"] = pct(mean(values))
        metrics["rec.@IoU"] = pct(mean(fraction_at_least(values, t) for t in THRESHOLDS))
    if answers:
        metrics["long-acc."] = pct(mean(answers.values()))
        metrics["acc.@IoU"] = pct(
            mean(
                mean(ok and ious.get(q, 0.0) >= t for q, ok in answers.items()) for t in THRESHOLDS
            )
        )
    return metrics, {}


def read_predictions(paths: Sequence[Path], data: list[CGSample]) -> Read:
    if len(paths) != 1 or not paths[0].exists():
        raise PredictionError("cgbench: expected one predictions file or result folder")
    if paths[0].is_dir():
        return _read_official(paths[0]), []
    if not is_framescope_jsonl(paths[0]):
        raise PredictionError("expected framescope prediction JSON lines", str(paths[0]))
    return framescope_records(paths, data)


def _rules(
    data: list[CGSample], preds: dict[str, Prediction] | dict[str, CGScore], how: Scoring
) -> Scores:
    ids = [s.id for s in data]
    framescope = bool(preds) and isinstance(next(iter(preds.values())), Prediction)
    notes = extra_note([*ids, *(f"{i}#clue" for i in ids)] if framescope else ids, preds)
    if how.compat == "videomind":
        if not framescope:
            raise PredictionError(
                "cgbench: --compat videomind needs framescope predictions (official results hold only scores)"
            )
        metrics, breakdowns = _videomind(data, cast(dict[str, Prediction], preds))
    else:
        scores = (
            _scores(data, cast(dict[str, Prediction], preds))
            if framescope
            else cast(dict[str, CGScore], preds)
        )
        metrics, breakdowns = _official(data, scores)
        unread = {m: sum(getattr(scores[i], m) == -1 for i in ids if i in scores) for m in MODES}
        notes += [f"{n} unreadable {m} answers left out (official)" for m, n in unread.items() if n]
    missing = sum(i not in preds for i in ids)
    if missing:
        notes.append(f"{missing} questions without a prediction left out")
    if not metrics:
        raise PredictionError("cgbench: no prediction could be scored")
    return Scores(metrics, breakdowns, {"questions": len(data) - missing}, notes)


def _items(data: list[CGSample], videos: Videos) -> list[EvalItem]:
    return question_items(data, prompts.grounded_qa, lambda s: videos.file(s.video))


def _prediction(trace: Trace, item: EvalItem) -> Prediction:
    duration = item.duration if item.duration is not None else trace.duration
    return trace_prediction(trace, item, lambda text: cgbench_spans(text, duration))


CGBENCH = Benchmark(
    name="cgbench",
    title="CG-Bench",
    annotation_help="cgbench.json (or the folder of per-question JSON files)",
    prediction_help=(
        "framescope prediction JSON lines ('<qid>' = long-video answer + clue windows, "
        "'<qid>#clue' = answer given the clues) or the official per-question result folder"
    ),
    layout=Layout(
        ("cgbench.json",), ("cg_videos_720p",), "cgbench.json + cg_videos_720p/<video_uid>.mp4"
    ),
    load=load_cgbench,
    rules=_rules,
    items=_items,
    compat=("videomind",),
    read_predictions=read_predictions,
    prediction=_prediction,
)
