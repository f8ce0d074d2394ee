"""CG-Bench: clue-grounded multiple-choice questions on long videos.

Follows the authors' ``CG-Bench/CG-Bench`` at f826608: ``run/utils.py`` (``post_process``:
reading a reply into one score per question and mode) and ``run/stat_with_key.py`` (the metrics):

* Three modes per question: ``long_acc`` (answer on the whole video, 1/0), ``clue_acc`` (answer
  given the clue clips, 1/0), ``miou`` (IoU of the clue intervals the reply names with the GT
  ones, both lists merged first: :func:`~framescope.eval.metrics.merged_intervals_iou`). A reply
  that gives no score leaves the question out of that mode (``run_api.py`` saves nothing):
  :func:`~framescope.text.cgbench_choice`, :func:`~framescope.text.cgbench_intervals`.
* Each mode: the mean over the questions it scored. ``rec@iou``: share of those with miou
  ``>=`` t; ``acc@iou``: share of the questions with both miou and long_acc that are right with
  miou ``>=`` t; both averaged over t = 0.1…0.5. ``CRR`` = min(long, clue) / clue (the paper's,
  as VLMEvalKit computes it). Breakdowns by duration (VLMEvalKit's bins, minutes (−∞,10], …,
  (60, ∞)), domain and sub-category, same rules. The script prints fractions; here percent.

Files: ``cgbench.json`` (list of ``{qid, video_uid, question, choices, right_answer,
clue_intervals, duration, domain, sub_category, …}``) or the per-question folder written by
``run/save_as_jsons.py``. Ids are the qids.

Predictions: framescope prediction JSON lines — ``<qid>``: the reply on the whole video (its
answer, and its clue intervals: the record's ``windows`` when set, else the reply read as
above), ``<qid>#clue``: the answer given the clues, optionally ``<qid>#miou``: a separate
grounding run; the official per-question result folder (``results: {"<task_mode>_<model>…":
{"result": score}}``, one run per folder), taken as saved; or VLMEvalKit's result table
(``.xlsx``/``.tsv``/``.json`` rows ``qid, task_mode, prediction``), whose replies are read as
above.

``framescope eval`` layout: ``DATA_ROOT/cgbench.json``, the release's videos
``cg_videos_720p/<video_uid>.mp4`` and clue clips ``cg_clue_videos/<qid>.mp4``. Per question
``<qid>`` (:data:`~framescope.eval.prompts.GROUNDED_QA`; the clue intervals read from the raw
reply with CG-Bench's reader, else the windows a method fetched) and, when the clue clips are
there, ``<qid>#clue`` on its clip (:data:`~framescope.eval.prompts.MULTIPLE_CHOICE`).

``--compat videomind``: VideoMind's tables in CG-Bench mode
(:mod:`~framescope.eval.benchmarks.videomind`, ``conf_thr`` its ``--conf_thr``), task =
sub-category.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from framescope.errors import AnnotationError, MissingFileError, PredictionError
from framescope.eval import prompts
from framescope.eval.benchmarks import videomind as vm
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
    keep,
    question_items,
    trace_prediction,
    video_file,
)
from framescope.eval.files import is_framescope_jsonl, read_json, read_json_records, read_table
from framescope.eval.metrics import (
    fraction_at_least,
    mean,
    merged_intervals_iou,
)
from framescope.text import Spans, cgbench_choice, cgbench_intervals
from framescope.types import Prediction, Sample, Trace, Window

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
    """The per-question folder of ``run/run_api.py``: the saved score of each mode (a question
    without a mode's key has no score in it)."""
    out = {}
    for f in sorted(folder.glob("*.json")):
        data = read_json(f, PredictionError)
        results = data.get("results") if isinstance(data, dict) else None
        if not isinstance(results, dict) or "qid" not in data:
            raise PredictionError("expected a question file with 'qid' and 'results'", str(f), 1)
        found: dict[str, float | None] = {}
        for key, entry in results.items():
            mode = next((m for m in MODES if key.startswith(m + "_")), None)
            if mode is None:
                continue
            if mode in found:
                raise PredictionError(
                    f"two {mode} runs ({key} …): keep one run per folder", str(f), 1
                )
            value = entry.get("result") if isinstance(entry, dict) else None
            found[mode] = None if value is None else float(value)
        out[str(data["qid"])] = CGScore(**found)
    if not out:
        raise PredictionError(f"cgbench: no question result files in {folder}")
    return out


SHEET_COLUMNS = ("qid", "task_mode", "prediction")


def _read_sheet(path: Path) -> dict[str, Prediction]:
    """VLMEvalKit's CG-Bench result table (``.xlsx``, ``.tsv``/``.csv`` or ``.json`` records; one
    row per question and ``task_mode``, the model's reply in ``prediction``) as framescope
    records: ``<qid>`` holds the long_acc reply, ``<qid>#clue`` the clue_acc reply and
    ``<qid>#miou`` the miou reply."""
    rows = read_table(path, SHEET_COLUMNS)
    out: dict[str, Prediction] = {}
    suffix = {"long_acc": "", "clue_acc": "#clue", "miou": "#miou"}
    for line, row in rows:
        mode = str(row["task_mode"])
        if mode not in suffix:
            raise PredictionError(
                f"task_mode {mode!r} is none of {', '.join(suffix)}", str(path), line
            )
        key = f"{_qid(row['qid'])}{suffix[mode]}"
        reply = row["prediction"]
        missing = reply is None or (isinstance(reply, float) and math.isnan(reply))
        out[key] = Prediction(key, response=None if missing else str(reply))
    if not out:
        raise PredictionError("no result rows", str(path))
    return out


def _qid(value: object) -> str:
    """A qid as the annotations write it (spreadsheets turn integers into floats)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _answer_score(pred: Prediction | None, s: CGSample) -> float | None:
    """post_process for long_acc / clue_acc: 1 or 0, ``None`` when nothing is read (no score)."""
    text = answer_text(pred)
    read = cgbench_choice(text) if text else None
    if read is None or not read.valid:
        return None
    return 1.0 if s.right_answer in read.letters else 0.0


def _miou_score(pred: Prediction | None, s: CGSample) -> float | None:
    """post_process for miou: the record's windows, else its reply read as CG-Bench reads it."""
    if pred is None or pred.error is not None:
        return None
    intervals = tuple(pred.windows) if pred.windows else cgbench_intervals(pred.response)
    return None if intervals is None else merged_intervals_iou(intervals, s.windows)


def _scores(samples: Sequence[CGSample], records: dict[str, Prediction]) -> dict[str, CGScore]:
    """Official per-question scores from framescope records: ``<qid>`` answers on the whole
    video and names the clue intervals (unless the records hold separate ``<qid>#miou`` runs),
    ``<qid>#clue`` answers given the clues."""
    separate = any(k.endswith("#miou") for k in records)  # a miou run of its own (VLMEvalKit)
    out = {}
    for s in samples:
        long_, clue = records.get(s.id), records.get(f"{s.id}#clue")
        grounding = records.get(f"{s.id}#miou") if separate else long_
        out[s.id] = CGScore(
            _answer_score(long_, s), _answer_score(clue, s), _miou_score(grounding, s)
        )
    return out


def _rating(samples: Sequence[CGSample], scores: dict[str, CGScore]) -> dict[str, float]:
    """stat_with_key.py: each mode's mean over the questions it scored; ``rec@iou`` /
    ``acc@iou`` averaged over t = 0.1 … 0.5 with ``>=``; CRR = min(long, clue) / clue."""
    kept = {m: {s.id: getattr(scores[s.id], m) for s in samples if s.id in scores} for m in MODES}
    kept = {m: {k: v for k, v in d.items() if v is not None} for m, d in kept.items()}
    out = {m: pct(mean(kept[m].values())) for m in MODES if kept[m]}
    if kept["long_acc"] and kept["clue_acc"]:
        long_, clue = mean(kept["long_acc"].values()), mean(kept["clue_acc"].values())
        out["CRR"] = pct(min(long_, clue) / clue) if clue != 0 else 0.0
    if kept["miou"]:
        miou, long_acc = kept["miou"], kept["long_acc"]
        both = set(miou) & set(long_acc)
        if both:
            out["acc@iou"] = pct(
                mean(mean(miou[q] >= t and long_acc[q] == 1 for q in both) for t in THRESHOLDS)
            )
        out["rec@iou"] = pct(mean(fraction_at_least(list(miou.values()), t) for t in THRESHOLDS))
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
    samples: Sequence[CGSample], records: dict[str, Prediction], conf_thr: float
) -> Scores:
    rows = [
        vm.Sample(
            (s.sub_category or "unknown",),
            s.windows,
            (p.windows or None) if p.error is None else None,
            p.scores,
            vm.reply(p),
            s.right_answer,
            s.num_choices,
        )
        for s in samples
        if (p := records.get(s.id)) is not None
    ]
    return vm.tables(rows, cgbench=True, conf_thr=conf_thr)


def read_predictions(paths: Sequence[Path], data: list[CGSample]) -> Read:
    if len(paths) != 1 or not paths[0].exists():
        raise PredictionError("cgbench: expected one predictions file or result folder")
    path = paths[0]
    if path.is_dir():
        return _read_official(path), []
    if path.suffix in (".xlsx", ".tsv", ".csv") or (
        path.suffix == ".json" and not is_framescope_jsonl(path)
    ):
        return _read_sheet(path), []
    if not is_framescope_jsonl(path):
        raise PredictionError(
            "expected framescope prediction JSON lines or VLMEvalKit's result table", str(path)
        )
    return framescope_records(paths, data)


def _rules(
    data: list[CGSample], preds: dict[str, Prediction] | dict[str, CGScore], how: Scoring
) -> Scores:
    ids = [s.id for s in data]
    framescope = bool(preds) and isinstance(next(iter(preds.values())), Prediction)
    keys = [*ids, *(f"{i}{m}" for i in ids for m in ("#clue", "#miou"))] if framescope else ids
    notes = extra_note(keys, preds)
    if how.compat == "videomind":
        if not framescope:
            raise PredictionError(
                "cgbench: --compat videomind needs framescope predictions (official results hold only scores)"
            )
        scores = _videomind(data, cast(dict[str, Prediction], preds), how.conf_thr)
        scores.notes = [*notes, *scores.notes]
        return scores
    per_question = (
        _scores(data, cast(dict[str, Prediction], preds))
        if framescope
        else cast(dict[str, CGScore], preds)
    )
    metrics, breakdowns = _official(data, per_question)
    missing = sum(i not in per_question for i in ids)
    if missing:
        notes.append(f"{missing} questions without a prediction left out")
    for m in MODES:
        unscored = sum(getattr(per_question[i], m) is None for i in ids if i in per_question)
        if unscored and (m != "clue_acc" or len(metrics)):
            notes.append(f"{unscored} questions without a {m} score left out (official)")
    if not metrics:
        raise PredictionError("cgbench: no prediction could be scored")
    return Scores(metrics, breakdowns, {"questions": len(data) - missing}, notes)


CLUE_VIDEOS = "cg_clue_videos"  # the release's clue clips, <qid>.mp4 (clue_video_chunk_*.zip)


def _items(data: list[CGSample], videos: Videos) -> list[EvalItem]:
    """Per question ``<qid>`` on the whole video (answer and clue intervals), then — when the
    release's clue clips are there — ``<qid>#clue`` on the clip of its clues (clue_acc)."""
    whole = question_items(data, prompts.grounded_qa, lambda s: videos.file(s.video))
    try:
        clip_folder = videos.folder((CLUE_VIDEOS,))
    except MissingFileError:
        return whole
    clues = [
        EvalItem(
            Sample(
                f"{s.id}#clue",
                video_file(clip_folder, s.id),
                s.question,
                s.options,
                prompt=prompts.multiple_choice(s.question),
            )
        )
        for s in data
    ]
    return [item for pair in zip(whole, clues) for item in pair]


def _subset(data: list[CGSample], ids: Collection[str]) -> list[CGSample]:
    return keep(data, {i.partition("#")[0] for i in ids})


def _prediction(trace: Trace, item: EvalItem) -> Prediction:
    """The clue intervals the reply names, read as CG-Bench reads them, else the method's."""
    if item.id.endswith("#clue"):
        return trace_prediction(trace, item)
    return trace_prediction(trace, item, lambda reply: Spans(cgbench_intervals(reply) or ()))


CGBENCH = Benchmark(
    name="cgbench",
    title="CG-Bench",
    annotation_help="cgbench.json (or the folder of per-question JSON files)",
    prediction_help=(
        "framescope prediction JSON lines ('<qid>' = long-video answer + clue windows, "
        "'<qid>#clue' = answer given the clues), the official per-question result folder, or "
        "VLMEvalKit's result table (.xlsx, .tsv, .json)"
    ),
    layout=Layout(
        ("cgbench.json",),
        ("cg_videos_720p",),
        f"cgbench.json + cg_videos_720p/<video_uid>.mp4 + {CLUE_VIDEOS}/<qid>.mp4",
    ),
    load=load_cgbench,
    rules=_rules,
    items=_items,
    compat=("videomind",),
    read_predictions=read_predictions,
    subset=_subset,
    prediction=_prediction,
)
