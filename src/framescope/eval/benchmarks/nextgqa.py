"""NExT-GQA: grounded video question answering.

Follows the benchmark's own scripts in ``doc-doc/NExT-GQA``: ``code/TempGQA/eval_ground.py``
(grounding and Acc@GQA) and ``code/TempCLIP/eval_next.py`` (QA accuracy by question type).

* IoU and IoP of the (single) predicted window against each GT window, maxima taken
  independently; IoU uses the hull union; IoP = overlap / prediction length; a zero-length
  prediction has IoU 0 and IoP 1 when it lies inside a GT window (ends included), else 0; a
  reversed prediction scores 0 on both.
* ``mIoU``, ``IoU@0.3``, ``IoU@0.5``, ``mIoP``, ``IoP@0.3``, ``IoP@0.5`` (``>=``) over the
  questions that have a grounding prediction — a question absent from the grounding predictions is
  skipped, as the official loop does. ``Acc@GQA``: answer correct AND IoP ``>= 0.5``, over the same
  questions.
* ``Acc@QA`` over every annotated question, with the official per-type table (``Why`` CW,
  ``How`` CH, ``Bef&Aft`` TN+TP, ``When`` TC, ``Acc_C``, ``Acc_T``); every question then needs a
  QA prediction (the official script fails otherwise).

Files: ``test.csv`` (or ``val.csv``; answer given as option text) and ``gsub_test.json`` (or
``gsub_val.json``: ``{video_id: {duration, location: {qid: [[s, e], …]}}}``). Sample ids are the
official keys ``<video_id>_<qid>``; the questions are those of the gsub file.

Predictions: the official result files — a grounding JSON ``{"<vid>_<qid>": [start, end]}`` in
seconds and a QA JSON ``{"<vid>_<qid>": {"prediction": i, "answer": j}}`` (pass either or both) —
or framescope prediction JSON lines. For framescope records the first window is the grounding and
the answer letter (A–E) is read with :func:`~framescope.text.choice`; a failed sample or
an unreadable window counts as IoU = IoP = 0 (a record exists, so it is not skipped) and an
unreadable answer as wrong.

``framescope eval`` layout: ``DATA_ROOT/test.csv`` + ``gsub_test.json`` (the folder
``datasets/nextgqa`` of the release) and NExT-QA's videos ``NExTVideo/<folder>/<vidorID>.mp4``,
found through the release's ``map_vid_vidorID.json`` (``{video_id: "<folder>/<vidorID>"}``) when
it is in the data root, else ``videos/<video_id>.mp4`` (the synthetic world). Questions in the
grounding file but not in the CSV (no options) are not run. Prompt:
:data:`~framescope.eval.prompts.GROUNDED_QA` with the question and the five options; the first
window of the reply (else the window a method fetched) is the grounding.

A QA result file's prediction is right when it equals the file's own ``answer`` (as
``eval_next.py`` compares); ``normalised_time`` reads the grounding as ``eval_ground``'s
``gs=True`` does (fractions × duration, ``np.round`` to 0.1 s).

``--compat videomind``: VideoMind's tables (:mod:`~framescope.eval.benchmarks.videomind`),
task = the CSV's question type. No lmms-eval task scores NExT-GQA grounding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from framescope.errors import AnnotationError, PredictionError
from framescope.eval import prompts
from framescope.eval.benchmarks import videomind as vm
from framescope.eval.benchmarks.base import (
    Benchmark,
    Read,
    Scores,
    Scoring,
    answer_text,
    check_coverage,
    extra_note,
    framescope_records,
    pct,
    predicted_windows,
)
from framescope.eval.benchmarks.layout import EvalItem, Layout, Videos, question_items
from framescope.eval.files import (
    expect_file,
    is_framescope_jsonl,
    key_lines,
    line_of,
    parse_json,
    read_csv,
    read_json,
    read_text,
)
from framescope.eval.metrics import (
    fraction_at_least,
    max_iou,
    mean,
    temporal_iop,
)
from framescope.text import choice
from framescope.types import Prediction, Window

NAME = "nextgqa"
OPTIONS = ("a0", "a1", "a2", "a3", "a4")
TYPE_NAMES = {
    "CW": "Why",
    "CH": "How",
    "TN": "Bef&Aft",
    "TC": "When",
    "DC": "Cnt",
    "DL": "Loc",
    "DO": "Other",
}


@dataclass(frozen=True)
class GQASample:
    id: str  # "<video_id>_<qid>"
    video: str
    question: str  # "" when the question is not in the CSV
    options: tuple[str, ...]
    answer: int | None  # index into options; None when the question is not in the CSV
    qtype: str | None
    duration: float | None
    windows: tuple[Window, ...]


@dataclass(frozen=True)
class GQAPredictions:
    """Windows (first = the grounding) and answer indices per sample id; ``None`` = not given."""

    windows: dict[str, list[Window]] | None
    answers: dict[str, int | None] | None  # None value: unreadable answer
    truth: dict[str, Any] = field(default_factory=dict)  # the QA file's own 'answer' values


def _gold_index(row: dict[str, str], path: Path, line: int) -> int:
    options = [row[k] for k in OPTIONS]
    answer = row["answer"]
    if answer in options:
        return options.index(answer)
    if answer.strip().isdigit() and int(answer) < len(options):
        return int(answer)
    raise AnnotationError(f"answer {answer!r} is none of the options", str(path), line)


def load_nextgqa(csv_path: Path, gsub_path: Path) -> list[GQASample]:
    rows: dict[str, tuple[dict[str, str], int]] = {}
    columns = ("video_id", "question", "answer", "qid", "type", *OPTIONS)
    for line, csv_row in read_csv(csv_path, columns):
        key = f"{csv_row['video_id']}_{csv_row['qid']}"
        rows[key] = (csv_row, _gold_index(csv_row, csv_path, line))
    gsub_text = read_text(gsub_path)
    gsub = parse_json(gsub_text, gsub_path)
    lines = key_lines(gsub_text)
    if not isinstance(gsub, dict):
        raise AnnotationError("expected {video_id: {duration, location}}", str(gsub_path), 1)
    samples: list[GQASample] = []
    for vid, entry in gsub.items():
        at = lines.get(vid)
        if not isinstance(entry, dict) or not isinstance(entry.get("location"), dict):
            raise AnnotationError(f"{vid}: expected a 'location' object", str(gsub_path), at)
        for qid, locs in entry["location"].items():
            if not isinstance(locs, list) or not all(
                isinstance(w, list) and len(w) == 2 and all(isinstance(x, (int, float)) for x in w)
                for w in locs
            ):
                raise AnnotationError(
                    f"{vid} question {qid}: location must be [[s, e], …]", str(gsub_path), at
                )
            key = f"{vid}_{qid}"
            found: tuple[dict[str, str] | None, int | None] = rows.get(key, (None, None))
            row, gold = found
            samples.append(
                GQASample(
                    key,
                    vid,
                    row["question"] if row else "",
                    tuple(row[k] for k in OPTIONS) if row else (),
                    gold,
                    row["type"] if row else None,
                    float(entry["duration"])
                    if isinstance(entry.get("duration"), (int, float))
                    else None,
                    tuple(Window(float(s), float(e)) for s, e in locs),
                )
            )
    if not samples:
        raise AnnotationError("no grounded questions in the file", str(gsub_path))
    return samples


def _read_official(paths: Sequence[Path]) -> GQAPredictions:
    windows: dict[str, list[Window]] | None = None
    answers: dict[str, int | None] | None = None
    truth: dict[str, Any] = {}
    for path in paths:
        text = read_text(path, PredictionError)
        data = parse_json(text, path, PredictionError)
        if not isinstance(data, dict) or not data:
            raise PredictionError(
                "expected a non-empty JSON object keyed by '<video_id>_<qid>'", str(path), 1
            )
        first = next(iter(data.values()))
        if isinstance(first, dict):  # QA results {key: {prediction, answer}}
            answers = {}
            for key, value in data.items():
                if not isinstance(value, dict) or not isinstance(value.get("prediction"), int):
                    raise PredictionError(
                        f"{key}: expected {{'prediction': int, …}}",
                        str(path),
                        line_of(text, f'"{key}"'),
                    )
                answers[key] = value["prediction"]
                if "answer" in value:
                    truth[key] = value["answer"]
        else:  # grounding {key: [start, end]} (or a ranked list of windows)
            windows = {}
            for key, value in data.items():
                spans = value if value and isinstance(value[0], list) else [value]
                try:
                    windows[key] = [Window(float(s[0]), float(s[-1])) for s in spans]
                except (TypeError, ValueError, IndexError):
                    raise PredictionError(
                        f"{key}: expected [start, end] in seconds",
                        str(path),
                        line_of(text, f'"{key}"'),
                    ) from None
    return GQAPredictions(windows, answers, truth)


def _from_framescope(preds: Mapping[str, Prediction]) -> GQAPredictions:
    windows = {k: predicted_windows(p) for k, p in preds.items()}
    answers: dict[str, int | None] = {}
    for key, pred in preds.items():
        text = answer_text(pred)
        read = choice(text, "ABCDE") if text is not None else None
        answers[key] = "ABCDE".index(read.letters[0]) if read and read.valid else None
    has_answers = any(p.answer is not None or p.response is not None for p in preds.values())
    return GQAPredictions(windows, answers if has_answers else None)


def _seconds(windows: dict[str, list[Window]], samples: Sequence[GQASample]) -> None:
    """eval_ground's ``gs=True``: fractions of the video × its duration, rounded to 0.1 s as
    ``np.round`` does (half to even on ``x * 10``)."""
    durations = {s.id: s.duration for s in samples}
    for key, ws in windows.items():
        d = durations.get(key)
        if d is None:
            if key in durations:
                raise PredictionError(f"nextgqa: {key} has no duration to scale its grounding by")
            continue
        windows[key] = [
            Window(round(w.start * d * 10) / 10, round(w.end * d * 10) / 10) for w in ws
        ]


def _official(samples: Sequence[GQASample], preds: GQAPredictions) -> Scores:
    metrics: dict[str, float] = {}
    breakdowns: dict[str, Any] = {}
    counts: dict[str, int] = {}
    notes: list[str] = []
    correct: dict[str, bool] = {}
    if preds.answers is not None:
        qa = [s for s in samples if s.answer is not None]
        check_coverage((s.id for s in qa), preds.answers, "Acc@QA needs every question's answer")
        correct = {s.id: preds.answers[s.id] == preds.truth.get(s.id, s.answer) for s in qa}
        metrics["Acc@QA"] = pct(mean(correct.values()))
        groups: dict[str, list[bool]] = {}
        for s in qa:
            qtype = "TN" if s.qtype == "TP" else (s.qtype or "?")
            for g in (TYPE_NAMES.get(qtype, qtype), f"Acc_{qtype[0]}"):
                groups.setdefault(g, []).append(correct[s.id])
        order = [*TYPE_NAMES.values(), "Acc_C", "Acc_T", "Acc_D"]
        ranked = sorted(groups, key=lambda g: order.index(g) if g in order else len(order))
        breakdowns["Acc@QA by type"] = {g: pct(mean(groups[g])) for g in ranked}
        counts["qa_questions"] = len(qa)
    if preds.windows is not None:
        grounded = [s for s in samples if s.id in preds.windows]
        if len(grounded) < len(samples):
            notes.append(
                f"{len(samples) - len(grounded)} questions without a grounding prediction skipped (official)"
            )
        if not grounded:
            raise PredictionError(
                "nextgqa: no grounding prediction matches the annotated questions"
            )
        ious, iops = [], []
        for s in grounded:
            w = preds.windows[s.id]
            ious.append(max_iou(w[0], s.windows) if w else 0.0)
            iops.append(max_iou(w[0], s.windows, temporal_iop) if w else 0.0)
        metrics.update(_grounding_block(ious, iops, (0.3, 0.5)))
        if preds.answers is not None:
            hits = [iop >= 0.5 and correct.get(s.id, False) for s, iop in zip(grounded, iops)]
            metrics["Acc@GQA"] = pct(mean(hits))
        counts["grounded_questions"] = len(grounded)
        counts["no_window"] = sum(not preds.windows[s.id] for s in grounded)
    return Scores(metrics, breakdowns, counts, notes)


def _grounding_block(
    ious: Sequence[float], iops: Sequence[float], thresholds: Sequence[float]
) -> dict[str, float]:
    out = {"mIoP": pct(mean(iops))}
    out.update({f"IoP@{t}": pct(fraction_at_least(iops, t)) for t in thresholds})
    out["mIoU"] = pct(mean(ious))
    out.update({f"IoU@{t}": pct(fraction_at_least(ious, t)) for t in thresholds})
    return out


def _videomind(
    samples: Sequence[GQASample], preds: GQAPredictions | dict[str, Prediction]
) -> Scores:
    if isinstance(preds, dict):  # framescope records: the reply as generated
        windows = {k: predicted_windows(p) for k, p in preds.items()}
        texts = {k: vm.reply(p) for k, p in preds.items()}
    else:  # official result files: the predicted index as its letter
        windows = preds.windows or {}
        texts = {k: "ABCDE"[i] if i is not None else "" for k, i in (preds.answers or {}).items()}
    rows = [
        vm.Sample(
            (s.qtype or "unknown",),
            s.windows,
            windows.get(s.id) or None,
            None,
            texts.get(s.id),
            "ABCDE"[s.answer] if s.answer is not None else "",
            len(s.options) or 5,
        )
        for s in samples
    ]
    return vm.tables(rows)


LAYOUT = Layout(
    ("",),
    ("NExTVideo", "videos"),
    "test.csv + gsub_test.json + map_vid_vidorID.json + NExTVideo/<folder>/<vidorID>.mp4 "
    "(without the map: videos/<video_id>.mp4)",
)


def load(paths: Sequence[Path]) -> list[GQASample]:
    given_csv = [p for p in paths if p.is_file() and p.suffix == ".csv"]
    csv_path = (
        given_csv[0]
        if given_csv
        else expect_file(
            [p for p in paths if p.is_dir()] or paths,
            ("test.csv", "val.csv"),
            NAME,
            "the QA file test.csv",
        )
    )
    gsub_names = (
        ("gsub_val.json", "gsub_test.json")
        if csv_path.name == "val.csv"
        else ("gsub_test.json", "gsub_val.json")
    )
    gsub = next((p for p in paths if p.is_file() and p.suffix == ".json"), None)
    if gsub is None:
        folders = [p for p in paths if p.is_dir()] or [csv_path.parent]
        gsub = expect_file(folders, gsub_names, NAME, "the grounding file gsub_test.json")
    return load_nextgqa(csv_path, gsub)


def read_predictions(paths: Sequence[Path], data: list[GQASample]) -> Read:
    if not paths:
        raise PredictionError("nextgqa: no predictions file given")
    for p in paths:
        if not p.is_file():
            raise PredictionError(f"nextgqa: predictions file {p} does not exist")
    if len(paths) == 1 and is_framescope_jsonl(paths[0]):
        return framescope_records(paths, data)
    return _read_official(paths), []


def _rules(
    data: list[GQASample], predictions: GQAPredictions | dict[str, Prediction], how: Scoring
) -> Scores:
    ids = [s.id for s in data]
    if isinstance(predictions, dict):  # framescope records
        notes = extra_note(ids, predictions)
    else:
        notes = extra_note(ids, {**(predictions.windows or {}), **(predictions.answers or {})})
    if how.compat == "videomind":
        scores = _videomind(data, predictions)
    else:
        if isinstance(predictions, dict):
            predictions = _from_framescope(predictions)
        if how.normalised_time and predictions.windows is not None:
            _seconds(predictions.windows, data)
        scores = _official(data, predictions)
        if "Acc@QA" not in scores.metrics:
            notes.append("no QA predictions: Acc@QA and Acc@GQA left out")
    scores.notes = list(dict.fromkeys([*notes, *scores.notes]))
    return scores


def _items(data: list[GQASample], videos: Videos) -> list[EvalItem]:
    paths = _video_map(videos.root / VIDEO_MAP)
    in_csv = [s for s in data if s.answer is not None]  # questions without options are not run
    return question_items(
        in_csv, prompts.grounded_qa, lambda s: videos.file(paths.get(s.video, s.video))
    )


VIDEO_MAP = "map_vid_vidorID.json"


def _video_map(path: Path) -> dict[str, str]:
    """The release's ``{video_id: "<folder>/<vidorID>"}`` (empty when the file is absent)."""
    if not path.is_file():
        return {}
    data = read_json(path)
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise AnnotationError('expected {"<video_id>": "<folder>/<vidorID>", …}', str(path), 1)
    return {str(k): v for k, v in data.items()}


NEXTGQA = Benchmark(
    name=NAME,
    title="NExT-GQA",
    annotation_help="test.csv (or val.csv) and gsub_test.json (or gsub_val.json) from NExT-GQA's datasets/nextgqa",
    prediction_help=(
        "official result files: grounding JSON {'<vid>_<qid>': [start, end]} and/or QA JSON "
        "{'<vid>_<qid>': {'prediction': i, 'answer': j}}; or framescope prediction JSON lines"
    ),
    layout=LAYOUT,
    load=load,
    rules=_rules,
    items=_items,
    compat=("videomind",),
    read_predictions=read_predictions,
)
