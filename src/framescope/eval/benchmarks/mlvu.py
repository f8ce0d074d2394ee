"""MLVU: multiple-choice tasks on long videos.

Follows ``JUNJIE99/MLVU`` at fd060c1: ``evaluation/multiple_choice_evaluation/choice_bench.py``
(``check_ans`` and ``final_res``) and ``evaluation_test/test_bench.py`` (the test format):

* The answer is the one character before the first ``)`` (the prompt ends with ``Best Option:
  (``), else the whole reply, never stripped (:func:`~framescope.text.mlvu_choice`), compared
  with the gold letter: the letter of the *last* candidate equal to ``answer`` (the template
  overwrites its index), ``@`` when none is (``chr(ord("A") - 1)``). Unreadable = wrong.
* Per-task accuracy under the task's name (dev: the task file's, ``1_plotQA.json`` → ``plotQA``;
  test: ``question_type``) and ``Avg``, the mean over the tasks — the names and meanings
  ``final_res`` prints.

Files: the dev annotation JSON files (``json/1_plotQA.json`` … ``7_topic_reasoning.json``: lists of
``{video, duration, question, candidates, answer, question_type}``; pass the folder or the files)
or a test question file with ``question_id``. Generation tasks (sub-scene captioning, summary) are
skipped. Ids: ``question_id`` when given, else ``<question_type>_<i>`` with ``i`` the index of the
question within its file.

Predictions: the official result list ``[{question_id, question_type, option}]`` or framescope
prediction JSON lines.

``framescope eval`` layout (the Hugging Face release ``MLVU/``): ``DATA_ROOT/json/*.json`` with the
videos in ``video/<task file stem>/<video>`` (``video/1_plotQA/…``); a test question file's videos
(it has ``question_id``) lie directly in ``video/``. Prompt: Video-MME's instruction
(:data:`~framescope.eval.prompts.MULTIPLE_CHOICE`) with the question and the candidates as options.

``--compat lmms-eval`` (v0.7.2 ``lmms_eval/tasks/mlvu/utils.py``): reasoning blocks stripped,
``extract_mcq_answer`` over A–D against the first matching candidate's letter; ``M-Avg`` over
lmms-eval's fixed task list (dev: 7 tasks, test: 9 — a task with no questions counts 0).
``--compat videomind``: VideoMind's QA table (:mod:`~framescope.eval.benchmarks.videomind`),
task = ``question_type``.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from framescope.errors import AnnotationError, EvalError, MissingFileError, PredictionError
from framescope.eval import prompts
from framescope.eval.benchmarks import videomind as vm
from framescope.eval.benchmarks.base import (
    Benchmark,
    Scores,
    Scoring,
    answer_text,
    check_coverage,
    pct,
    records_or,
)
from framescope.eval.benchmarks.layout import EvalItem, Layout, Videos, question_items
from framescope.eval.files import json_records, read_json, read_text
from framescope.eval.metrics import mean
from framescope.text import mcq_answer, mlvu_choice, strip_reasoning
from framescope.types import Prediction, Window

GENERATION_TASKS = {"subPlot", "sub_scene", "summary", "sub_plot", "SSC", "VS"}
LMMS_DEV_TASKS = ("anomaly_reco", "count", "ego", "needle", "order", "plotQA", "topic_reasoning")
LMMS_TEST_TASKS = (
    "anomaly_reco",
    "count",
    "ego",
    "needleQA",
    "order",
    "plotQA",
    "sportsQA",
    "topic_reasoning",
    "tutorialQA",
)


LAYOUT = Layout(("json",), ("video",), "json/1_plotQA.json … + video/<task file stem>/<video>")
NAME = "mlvu"
HELP = "MLVU's json/ folder (1_plotQA.json … 7_topic_reasoning.json) or question files"


@dataclass(frozen=True)
class MLVUSample:
    id: str
    task: str  # the official name: the dev task file's (1_plotQA.json: plotQA), else question_type
    answer: str  # gold letter as check_ans sees it: the last matching candidate, "@" for none
    num_options: int
    video: str = ""  # relative to the video folder: "<task file stem>/<video>" (dev files)
    question: str = ""
    options: tuple[str, ...] = ()
    duration: float | None = None
    windows: tuple[Window, ...] = ()
    question_type: str = ""  # as annotated (VideoMind's task)
    first: str | None = None  # the first matching candidate's letter (VideoMind's ``ans``)


def _task_from_name(path: Path) -> str:
    return re.sub(r"^\d+_", "", path.stem)


def load_mlvu_file(path: Path) -> list[MLVUSample]:
    text = read_text(path)
    if not text.lstrip().startswith("["):
        raise AnnotationError("expected a JSON list of questions", str(path), 1)
    samples: list[MLVUSample] = []
    counters: dict[str, int] = {}
    for line, item in json_records(text, path):
        if not isinstance(item, dict):
            raise AnnotationError("expected a question object", str(path), line)
        qtype = str(item.get("question_type") or _task_from_name(path))
        if qtype in GENERATION_TASKS:
            continue
        candidates = item.get("candidates")
        if not isinstance(candidates, list) or not candidates:
            raise AnnotationError("expected a non-empty 'candidates' list", str(path), line)
        index = counters.get(qtype, 0)
        counters[qtype] = index + 1
        answer = item.get("answer")
        letters = string.ascii_uppercase[: len(candidates)]
        matches = [k for k, c in enumerate(candidates) if c == answer]
        if matches:  # check_ans's template letters the last match
            gold, first = letters[matches[-1]], letters[matches[0]]
        elif isinstance(answer, str) and len(answer) == 1 and answer in letters:
            gold = first = answer  # a release that gives the letter
        else:
            gold, first = "@", None  # chr(ord("A") - 1): the template's letter for no match
        test = "question_id" in item
        video = str(item.get("video", ""))
        duration = item.get("duration")
        samples.append(
            MLVUSample(
                str(item["question_id"]) if test else f"{qtype}_{index}",
                qtype if test else _task_from_name(path),
                gold,
                len(candidates),
                video if test else f"{path.stem}/{video}",
                str(item.get("question", "")),
                tuple(str(c) for c in candidates),
                float(duration) if isinstance(duration, (int, float)) else None,
                question_type=qtype,
                first=first,
            )
        )
    return samples


def read_results(path: Path) -> dict[str, Prediction]:
    data = read_json(path, PredictionError)
    if not isinstance(data, list):
        raise PredictionError(
            "expected a JSON list of {question_id, question_type, option}", str(path), 1
        )
    out = {}
    for i, r in enumerate(data):
        if not isinstance(r, dict) or "question_id" not in r or "option" not in r:
            raise PredictionError(f"result {i}: needs 'question_id' and 'option'", str(path))
        out[str(r["question_id"])] = Prediction(str(r["question_id"]), answer=str(r["option"]))
    return out


def _read(compat: str | None, pred: Prediction, s: MLVUSample) -> bool:
    text = answer_text(pred)
    if compat == "lmms-eval":  # reasoning stripped, lmms-eval's reader; unreadable is wrong
        return mcq_answer(strip_reasoning(text or ""), "ABCD").letter == s.first
    read = mlvu_choice(text) if text is not None else None
    return bool(read and read.valid and read.letter == s.answer)


def load(paths: Sequence[Path]) -> list[MLVUSample]:
    files = []
    for p in paths:
        if not p.exists():
            raise MissingFileError(f"{NAME}: {p} does not exist (expected {HELP})")
        files += sorted(p.glob("*.json")) if p.is_dir() else [p]
    if not files:
        raise MissingFileError(
            f"{NAME}: expected {HELP}; no .json file in {', '.join(map(str, paths)) or '(nothing given)'}"
        )
    samples = [s for f in files for s in load_mlvu_file(f)]
    if not samples:
        raise AnnotationError(
            f"{NAME}: no multiple-choice questions in {', '.join(map(str, files))}"
        )
    seen = set()
    for s in samples:
        if s.id in seen:
            raise AnnotationError(
                f"{NAME}: question id {s.id} appears twice (pass each task file once)"
            )
        seen.add(s.id)
    return samples


def _rules(data: list[MLVUSample], preds: dict[str, Prediction], how: Scoring) -> Scores:
    notes = check_coverage((s.id for s in data), preds, "every question is scored")
    if how.compat == "videomind":
        rows = [
            vm.Sample(
                (s.question_type,),
                answer=vm.reply(preds[s.id]),
                gold=s.first or "",
                num_options=s.num_options,
            )
            for s in data
        ]
        scores = vm.tables(rows)
        scores.notes = [*notes, *scores.notes]
        return scores
    by_task: dict[str, list[bool]] = {}
    for s in data:
        by_task.setdefault(s.task, []).append(_read(how.compat, preds[s.id], s))
    per_task = {t: pct(mean(v)) for t, v in by_task.items()}
    if how.compat == "lmms-eval":
        fixed = next(
            (tl for tl in (LMMS_DEV_TASKS, LMMS_TEST_TASKS) if set(by_task) <= set(tl)), None
        )
        if fixed is None:
            raise EvalError(
                f"mlvu: lmms-eval knows only the task types {LMMS_DEV_TASKS} / {LMMS_TEST_TASKS}"
            )
        metrics = {"M-Avg": mean(per_task.get(t, 0.0) for t in fixed)}
    else:  # choice_bench.py: per task, then Avg, the mean over the tasks
        metrics = {"Avg": mean(per_task.values())}
    metrics.update(per_task)
    unmatched = sum(s.answer == "@" for s in data)
    if unmatched:
        notes.append(
            f"{unmatched} questions whose gold answer is none of the candidates: check_ans "
            "expects '@' for them (official)"
        )
    return Scores(metrics, {}, {"questions": len(data)}, notes)


def _items(data: list[MLVUSample], videos: Videos) -> list[EvalItem]:
    return question_items(data, prompts.multiple_choice, lambda s: str(videos.folder() / s.video))


MLVU_BENCH = Benchmark(
    name=NAME,
    title="MLVU",
    annotation_help=HELP,
    prediction_help="the official result list [{question_id, question_type, option}] or framescope prediction JSON lines",
    layout=LAYOUT,
    load=load,
    rules=_rules,
    items=_items,
    compat=("lmms-eval", "videomind"),
    read_predictions=records_or(read_results),
)
