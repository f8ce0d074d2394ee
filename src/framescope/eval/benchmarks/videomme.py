"""Video-MME: multiple-choice questions on short, medium and long videos.

Follows the parser Video-MME's README links to, ``thanku-all/parse_answer``
``eval_your_results.py`` at afd52cf:

* The answer letter is read by its ``extract_characters_regex``
  (:func:`~framescope.text.videomme_choice`): answer prefixes removed, then the first
  capital A–D anywhere in the text.
* An answer with no A–D is *left out of the denominator* ("answered" counts only extracted
  letters); a failed sample counts the same way. Accuracy = correct / answered.
* Reported: ``Overall``; per duration ``short`` / ``medium`` / ``long``; the tables
  ``Video Categories`` (domain), ``Video Sub Categories`` and ``Task Categories``, over the whole
  set and per duration (a group with nothing answered shows 0, as the script prints it).
* The script asserts complete results per duration: every question needs a prediction.

Files: the Video-MME questions as distributed — the Hugging Face release's parquet
(``videomme/test-00000-of-00001.parquet``: rows ``video_id, duration, domain, sub_category,
videoID, question_id, task_type, question, options, answer``; errors name the row as the line) —
or the same rows as JSON / JSON lines, or the nested per-video layout of the official results file
(``questions: […]``). Ids are the ``question_id`` values.

Predictions: the official results JSON (the nested per-video list with a ``response`` per
question — it also holds the answers, so it can be passed as ``--annotations`` too) or framescope
prediction JSON lines.

``framescope eval`` layout: ``DATA_ROOT/videomme/test-00000-of-00001.parquet`` (as downloaded; a
``test.json`` export also works) and the release's videos ``data/<videoID>.mp4`` (the extracted ``videos_chunked_*.zip``;
``videos/`` or ``video/`` also work). Prompt: Video-MME's official instruction
(:data:`~framescope.eval.prompts.MULTIPLE_CHOICE`), the question, then the options with their
``A.`` prefixes removed (the runtime letters them ``(A) …``).

``videomme_subs`` is the "w/ subs" setting for ``framescope eval``: each sample carries its
``subtitle/<videoID>.srt`` and the runtime shows the cues of the frames it samples.

``--compat lmms-eval`` (v0.7.2 ``lmms_eval/tasks/videomme/utils.py``): reasoning blocks stripped,
``extract_mcq_answer`` over A–D (:func:`~framescope.text.mcq_answer`), an unreadable answer
counts as wrong. ``--compat videomind``: VideoMind's QA table
(:mod:`~framescope.eval.benchmarks.videomind`), task = duration.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from framescope.errors import AnnotationError, MissingFileError, PredictionError
from framescope.eval import prompts
from framescope.eval.benchmarks import videomind as vm
from framescope.eval.benchmarks.base import (
    Benchmark,
    Scores,
    Scoring,
    annotation_file,
    answer_text,
    check_coverage,
    extra_note,
    pct,
    records_or,
)
from framescope.eval.benchmarks.layout import EvalItem, Layout, Videos, question_items
from framescope.eval.files import read_json_records
from framescope.eval.metrics import accuracy
from framescope.text import INVALID, mcq_answer, strip_reasoning, videomme_choice
from framescope.types import Prediction, Window

DURATIONS = ("short", "medium", "long")
TABLES = (
    ("Video Categories", "category"),
    ("Video Sub Categories", "sub_category"),
    ("Task Categories", "task_type"),
)


@dataclass(frozen=True)
class VMESample:
    id: str
    video_id: str
    length: str  # the duration category: short, medium or long
    category: str
    sub_category: str
    task_type: str
    answer: str
    num_options: int
    video: str = ""  # the YouTube id ``videoID``, the video file's stem
    question: str = ""
    options: tuple[str, ...] = ()  # option texts without their "A. " prefixes
    windows: tuple[Window, ...] = ()
    duration: float | None = None  # seconds: not annotated


_OPTION_PREFIX = re.compile(r"^\s*[A-Z]\s*[.)]\s*")


def _video_stem(r: dict[str, Any]) -> str:
    """``videoID``, else the id in ``url`` (``…watch?v=<id>``), else ``video_id``."""
    if r.get("videoID"):
        return str(r["videoID"])
    url = str(r.get("url") or "")
    if "v=" in url:
        return url.split("v=")[-1].split("&")[0]
    return str(r.get("video_id", ""))


def _records(
    path: Path, error: type[AnnotationError] = AnnotationError
) -> list[tuple[int, dict[str, Any]]]:
    """Flatten HF rows or nested per-video items into question records with their line."""
    out = []
    rows = (
        _parquet_rows(path, error) if path.suffix == ".parquet" else read_json_records(path, error)
    )
    for line, item in rows:
        if not isinstance(item, dict):
            raise error("expected a JSON object", str(path), line)
        if "questions" in item:
            video = {k: v for k, v in item.items() if k != "questions"}
            for q in item["questions"]:
                if not isinstance(q, dict):
                    raise error("each question must be an object", str(path), line)
                out.append((line, {**video, **q}))
        else:
            out.append((line, item))
    return out


def _parquet_rows(path: Path, error: type[AnnotationError]) -> list[tuple[int, Any]]:
    """The rows of the Hugging Face parquet as dicts, numbered from 1 (the "line" of errors)."""
    import pyarrow
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (OSError, pyarrow.ArrowException) as e:
        raise error(f"not a readable parquet file ({e})", str(path)) from None
    return list(enumerate(table.to_pylist(), start=1))


def load_videomme(path: Path) -> list[VMESample]:
    samples = []
    for line, r in _records(path):
        duration = r.get("duration_category", r.get("duration"))
        category = r.get("domain", r.get("video_category"))
        sub = r.get("sub_category", r.get("video_subcategory"))
        needed = {
            "question_id": r.get("question_id"),
            "answer": r.get("answer"),
            "task_type": r.get("task_type"),
            "duration": duration,
            "domain": category,
            "sub_category": sub,
        }
        missing = [k for k, v in needed.items() if v is None]
        if missing:
            raise AnnotationError(f"question lacks {', '.join(missing)}", str(path), line)
        if duration not in DURATIONS:
            raise AnnotationError(
                f"duration must be one of {DURATIONS}, got {duration!r}", str(path), line
            )
        options = r.get("options") or []
        samples.append(
            VMESample(
                str(r["question_id"]),
                str(r.get("video_id", r.get("videoID", ""))),
                duration,
                str(category),
                str(sub),
                str(r["task_type"]),
                str(r["answer"]).strip(),
                len(options) or 4,
                _video_stem(r),
                str(r.get("question", "")),
                tuple(_OPTION_PREFIX.sub("", str(o)) for o in options),
            )
        )
    if not samples:
        raise AnnotationError("no questions in the file", str(path))
    return samples


def read_results(path: Path) -> dict[str, Prediction]:
    """The official results file → one prediction per question (its ``response``)."""
    out = {}
    for line, r in _records(path, PredictionError):
        if "question_id" not in r or "response" not in r:
            raise PredictionError(
                "each question needs 'question_id' and 'response'", str(path), line
            )
        response = r["response"]
        out[str(r["question_id"])] = Prediction(
            str(r["question_id"]), response=None if response is None else str(response)
        )
    return out


Row = tuple[VMESample, "bool | None"]  # outcome None: no letter read, left out


def _group(rows: Sequence[Row], key: str | None = None) -> dict[str, float]:
    """{name: accuracy} for rows grouped by the sample attribute ``key`` (one group without)."""
    groups: dict[str, list[bool | None]] = {}
    for s, outcome in rows:
        groups.setdefault(getattr(s, key) if key else "all", []).append(outcome)
    return {  # a group with nothing answered shows 0, as the script prints it
        name: pct(accuracy(outcomes, "exclude")) if any(o is not None for o in outcomes) else 0.0
        for name, outcomes in groups.items()
    }


LAYOUT = Layout(
    ("",),
    ("data", "videos", "video"),
    "videomme/test-00000-of-00001.parquet (or test.json) + data/<videoID>.mp4 (or videos/, video/)",
)
PARQUET = "test-00000-of-00001.parquet"  # the Hugging Face release: videomme/<parquet>
FILE_NAMES = (PARQUET, f"videomme/{PARQUET}", "test.json", "videomme.json", "test.jsonl")
HELP = "the Video-MME questions: the Hugging Face parquet, or its rows as JSON/JSON lines, or the official nested layout"


def _outcome(s: VMESample, pred: Prediction, compat: str | None) -> bool | None:
    """Right, wrong, or (official) ``None``: no letter read, left out."""
    text = answer_text(pred)
    if compat == "lmms-eval":  # reasoning stripped, lmms-eval's reader; unreadable is wrong
        return mcq_answer(strip_reasoning(text or ""), "ABCD").letter == s.answer
    read = videomme_choice(text) if text is not None else INVALID
    return read.letters[0] == s.answer if read.valid else None


def _rules(data: list[VMESample], preds: dict[str, Prediction], how: Scoring) -> Scores:
    if how.compat == "videomind":
        notes = extra_note((s.id for s in data), preds)
        entries = [
            vm.Sample(
                (s.length,), answer=vm.reply(preds[s.id]), gold=s.answer, num_options=s.num_options
            )
            for s in data
            if s.id in preds
        ]
        scores = vm.tables(entries)
        scores.notes = [*notes, *scores.notes]
        return scores
    why = "the official script asserts complete results per duration"
    notes = check_coverage((s.id for s in data), preds, why)
    rows = [(s, _outcome(s, preds[s.id], how.compat)) for s in data]
    metrics = {"Overall": _group(rows)["all"]}
    present = [d for d in DURATIONS if any(s.length == d for s in data)]
    per_duration = _group(rows, "length")
    metrics.update({d: per_duration[d] for d in present})
    breakdowns: dict[str, Any] = {table: _group(rows, key) for table, key in TABLES}
    for d in present:
        subset = [r for r in rows if r[0].length == d]
        breakdowns[d] = {table: _group(subset, key) for table, key in TABLES}
    answered = sum(o is not None for _, o in rows)
    counts = {"questions": len(rows), "answered": answered, "unreadable": len(rows) - answered}
    return Scores(metrics, breakdowns, counts, notes)


def _items(data: list[VMESample], videos: Videos) -> list[EvalItem]:
    return question_items(data, prompts.multiple_choice, lambda s: videos.file(s.video))


SUBTITLES = "subtitle"  # the release's subtitle.zip: subtitle/<videoID>.srt (744 of 900 videos)


def _items_with_subtitles(data: list[VMESample], videos: Videos) -> list[EvalItem]:
    """The "w/ subs" setting: each sample carries its video's ``.srt`` (when the release has
    one); the runtime shows the subtitles of the frames it samples before the prompt."""
    folder = videos.root / SUBTITLES
    if not folder.is_dir():
        raise MissingFileError(
            f"videomme_subs: expected the subtitles in {folder}/ (the release's subtitle.zip)"
        )
    items = _items(data, videos)
    return [
        dataclasses.replace(it, sample=dataclasses.replace(it.sample, subtitles=str(path)))
        if (path := folder / f"{s.video}.srt").is_file()
        else it
        for s, it in zip(data, items)
    ]


VIDEOMME = Benchmark(
    name="videomme",
    title="Video-MME",
    annotation_help=HELP,
    prediction_help="the official results JSON (nested, 'response' per question) or framescope prediction JSON lines",
    layout=LAYOUT,
    load=annotation_file(load_videomme, FILE_NAMES, "videomme", HELP),
    rules=_rules,
    items=_items,
    compat=("lmms-eval", "videomind"),
    read_predictions=records_or(read_results),
)

VIDEOMME_SUBS = dataclasses.replace(
    VIDEOMME,
    name="videomme_subs",
    title="Video-MME (w/ subs)",
    layout=Layout(
        LAYOUT.annotations,
        LAYOUT.videos,
        LAYOUT.tree + f" + {SUBTITLES}/<videoID>.srt",
    ),
    items=_items_with_subtitles,
)
