"""LVBench: extreme-long-video multiple-choice questions.

Follows ``THUDM/LVBench`` ``lvbench/metrics/compute_accuracy.py`` and ``scripts/test_acc.py``:

* Questions absent from the answers are *skipped* (not in any denominator).
* An answer counts when it equals the gold letter exactly. Answers in the official answers file
  are compared as given; framescope answers are first read with LVBench's ``polish_answer``
  (:func:`~framescope.text.lvbench_choice`); a failed sample or unreadable answer is wrong.
* Categories are multi-label: a question counts once in each of its ``question_type`` entries;
  ``Overall`` counts each question once. Names follow ``test_acc.py``'s leaderboard map: ``KIR``,
  ``EU``, ``Sum``, ``ER``, ``Rea``, ``TG``, ``Overall``.

Files: ``video_info.meta.jsonl`` (one video per line with ``qa: [{uid, question, answer,
question_type: […]}]``). Ids are the ``uid`` values. Predictions: the official answers JSON
``{"<uid>": "A"}`` or framescope prediction JSON lines.

``framescope eval`` layout: ``DATA_ROOT/video_info.meta.jsonl`` with the videos downloaded by the
release's script, ``videos/<key>.mp4``. The question text carries its options as ``(A) …`` lines;
they are split off into the sample's options. Prompt: Video-MME's instruction
(:data:`~framescope.eval.prompts.MULTIPLE_CHOICE`), the question, the options.

``--compat lmms-eval`` (v0.7.2 ``lmms_eval/tasks/lvbench/utils.py``): reasoning blocks stripped,
``extract_mcq_answer`` over A–D, an unreadable answer wrong, every question required, ``Overall``
only. ``--compat videomind``: VideoMind's QA table, tasks = the question's types.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

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
    extra_note,
    pct,
    records_or,
)
from framescope.eval.benchmarks.layout import EvalItem, Layout, Videos, question_items
from framescope.eval.files import line_of, parse_json, read_jsonl, read_text
from framescope.eval.metrics import mean
from framescope.text import lvbench_choice, mcq_answer, strip_reasoning
from framescope.types import Prediction, Window

NAME_MAP = {
    "key information retrieval": "KIR",
    "event understanding": "EU",
    "summarization": "Sum",
    "entity recognition": "ER",
    "reasoning": "Rea",
    "temporal grounding": "TG",
}


@dataclass(frozen=True)
class LVSample:
    id: str
    answer: str
    categories: tuple[str, ...]
    num_options: int
    video: str = ""  # the video's key, the file stem
    question: str = ""  # without the option lines
    options: tuple[str, ...] = ()
    windows: tuple[Window, ...] = ()
    duration: float | None = None


_OPTION_LINE = re.compile(r"^\(([A-Z])\)\s*(.*)$")


def split_options(text: str) -> tuple[str, tuple[str, ...]]:
    """LVBench's question text → the question and its ``(A) …`` option lines' texts."""
    question, options = [], []
    for line in text.split("\n"):
        found = _OPTION_LINE.match(line.strip())
        if found:
            options.append(found.group(2).strip())
        else:
            question.append(line)
    return "\n".join(question).strip(), tuple(options)


def load_lvbench(path: Path) -> list[LVSample]:
    samples = []
    for line, video in read_jsonl(path):
        if not isinstance(video, dict) or not isinstance(video.get("qa"), list):
            raise AnnotationError("expected a video object with a 'qa' list", str(path), line)
        for qa in video["qa"]:
            if not isinstance(qa, dict) or not {"uid", "answer", "question_type"} <= set(qa):
                raise AnnotationError(
                    "each qa needs 'uid', 'answer' and 'question_type'", str(path), line
                )
            types = qa["question_type"]
            types = [types] if isinstance(types, str) else list(types)
            options = str(qa.get("question", "")).count("\n(")
            question, texts = split_options(str(qa.get("question", "")))
            samples.append(
                LVSample(
                    str(qa["uid"]),
                    str(qa["answer"]),
                    tuple(map(str, types)),
                    options or 4,
                    str(video.get("key", "")),
                    question,
                    texts,
                )
            )
    if not samples:
        raise AnnotationError("no questions in the file", str(path))
    return samples


def read_answers(path: Path) -> dict[str, str]:
    text = read_text(path, PredictionError)
    data = parse_json(text, path, PredictionError)
    if not isinstance(data, dict):
        raise PredictionError('expected a JSON object {"<uid>": "A", …}', str(path), 1)
    for uid, answer in data.items():
        if not isinstance(answer, str):
            raise PredictionError(
                f"answer of {uid} must be a string", str(path), line_of(text, f'"{uid}"')
            )
    return {str(k): v for k, v in data.items()}


def _correct(compat: str | None, value: Prediction | str, s: LVSample) -> bool:
    if isinstance(value, str):  # the official answers file: compared as given
        return value == s.answer
    text = answer_text(value)
    if compat == "lmms-eval":  # reasoning stripped, lmms-eval's reader; unreadable is wrong
        return mcq_answer(strip_reasoning(text or ""), "ABCD").letter == s.answer
    read = lvbench_choice(text) if text is not None else None
    return bool(read and read.valid and read.letter == s.answer)


def _videomind(data: list[LVSample], preds: dict[str, Prediction] | dict[str, str]) -> Scores:
    rows = [
        vm.Sample(
            s.categories,
            answer=p if isinstance(p, str) else vm.reply(p),
            gold=s.answer,
            num_options=s.num_options,
        )
        for s in data
        if (p := preds.get(s.id)) is not None
    ]
    return vm.tables(rows)


HELP = "LVBench's video_info.meta.jsonl"


def _rules(
    data: list[LVSample], preds: dict[str, Prediction] | dict[str, str], how: Scoring
) -> Scores:
    compat = how.compat
    ids = [s.id for s in data]
    if compat == "lmms-eval":
        notes = check_coverage(ids, preds, "lmms-eval scores every question")
    else:
        notes = extra_note(ids, preds)
    if compat == "videomind":
        scores = _videomind(data, preds)
        scores.notes = [*notes, *scores.notes]
        return scores
    scored = [(s, _correct(compat, preds[s.id], s)) for s in data if s.id in preds]
    if len(scored) < len(data):
        notes.append(f"{len(data) - len(scored)} questions without an answer skipped (official)")
    if not scored:
        raise PredictionError("lvbench: no answer matches an annotated question")
    metrics = {"Overall": pct(mean(ok for _, ok in scored))}
    if compat != "lmms-eval":
        groups: dict[str, list[bool]] = {}
        for s, ok in scored:
            for c in s.categories:
                groups.setdefault(NAME_MAP.get(c, c), []).append(ok)
        metrics.update({c: pct(mean(v)) for c, v in groups.items()})
    return Scores(metrics, {}, {"questions": len(scored)}, notes)


def _items(data: list[LVSample], videos: Videos) -> list[EvalItem]:
    return question_items(data, prompts.multiple_choice, lambda s: videos.file(s.video))


LVBENCH = Benchmark(
    name="lvbench",
    title="LVBench",
    annotation_help=HELP,
    prediction_help='the official answers JSON {"<uid>": "A"} or framescope prediction JSON lines',
    layout=Layout(("",), ("videos",), "video_info.meta.jsonl + videos/<key>.mp4"),
    load=annotation_file(load_lvbench, ("video_info.meta.jsonl",), "lvbench", HELP),
    rules=_rules,
    items=_items,
    compat=("lmms-eval", "videomind"),
    read_predictions=records_or(read_answers),
)
