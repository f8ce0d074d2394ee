"""The synthetic world's three tasks, scored with the Charades-STA, NExT-GQA and Video-MME rules.

The world generator writes, under one folder ``WORLD``::

    WORLD/charades_sta/charades_sta_test.txt   # "<video_id> <start> <end>##<sentence>"
    WORLD/nextgqa/test.csv + WORLD/nextgqa/gsub_test.json
    WORLD/videomme/test.json                   # Video-MME rows as a JSON list

Predictions are one framescope prediction JSON-lines file whose ids carry the task as a prefix:
``charades_sta/<id>``, ``nextgqa/<id>``, ``videomme/<id>`` (the ids each task's loader gives).
Metrics are reported as ``<task>/<metric>``; each task follows its benchmark module exactly.
``--compat videomind`` passes through to the three tasks.

``framescope eval synth --data-root WORLD`` runs the three tasks in that order, each with its
benchmark's prompt, on ``WORLD/videos/<video_id>.mp4``, with ids carrying the task prefix.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from framescope.errors import MissingFileError
from framescope.eval.benchmarks.base import (
    Benchmark,
    Read,
    Scores,
    Scoring,
    framescope_records,
)
from framescope.eval.benchmarks.layout import EvalItem, Layout, Videos
from framescope.eval.benchmarks.moment_retrieval import CHARADES_STA
from framescope.eval.benchmarks.nextgqa import NEXTGQA
from framescope.eval.benchmarks.videomme import VIDEOMME
from framescope.types import Prediction, Trace

TASKS = (
    ("charades_sta", CHARADES_STA, ("charades_sta/charades_sta_test.txt",)),
    ("nextgqa", NEXTGQA, ("nextgqa/test.csv", "nextgqa/gsub_test.json")),
    ("videomme", VIDEOMME, ("videomme/test.json",)),
)


LAYOUT = Layout(
    ("",),
    ("videos",),
    "the world folder: charades_sta/, nextgqa/, videomme/ and videos/<video_id>.mp4",
)


def load(paths: Sequence[Path]) -> dict[str, Any]:
    if len(paths) != 1 or not paths[0].is_dir():
        raise MissingFileError(
            f"synth: expected one world folder (--annotations WORLD), got {', '.join(map(str, paths)) or 'nothing'}"
        )
    world = paths[0]
    data: dict[str, Any] = {}
    for task, bench, rels in TASKS:
        files = [world / rel for rel in rels]
        for f in files:
            if not f.is_file():
                raise MissingFileError(f"synth: expected {f} (the world's {task} task)")
        data[task] = bench.load(files)
    return data


def read_predictions(paths: Sequence[Path], data: dict[str, Any]) -> Read:
    records, notes = framescope_records(paths, data)
    split: dict[str, dict[str, Prediction]] = {task: {} for task, _, _ in TASKS}
    stray = 0
    for key, pred in records.items():
        task, sep, ident = key.partition("/")
        if sep and task in split:
            split[task][ident] = dataclasses.replace(pred, id=ident)
        else:
            stray += 1
    if stray:
        notes.append(
            f"{stray} prediction(s) without a task prefix (charades_sta/, nextgqa/, videomme/) ignored"
        )
    return split, notes


def _rules(data: dict[str, Any], split: dict[str, dict[str, Prediction]], how: Scoring) -> Scores:
    out = Scores({})
    for task, bench, _ in TASKS:
        if not data[task]:  # a partial run (framescope eval --limit) left it out
            out.notes.append(f"{task}: no samples, not scored")
            continue
        result = bench.score(data[task], (split[task], []), how.compat)
        out.metrics.update({f"{task}/{k}": v for k, v in result.metrics.items()})
        out.counts.update({f"{task}/{k}": v for k, v in result.counts.items()})
        if result.breakdowns:
            out.breakdowns[task] = result.breakdowns
        out.notes += [f"{task}: {n}" for n in result.notes]
    return out


def _items(data: dict[str, Any], videos: Videos) -> list[EvalItem]:
    folder = videos.folder()
    return [
        dataclasses.replace(item, sample=dataclasses.replace(item.sample, id=f"{task}/{item.id}"))
        for task, bench, _ in TASKS
        for item in bench.items(data[task], bench.videos(videos.root / task, folder))
    ]


def _subset(data: dict[str, Any], ids: Collection[str]) -> dict[str, Any]:
    split: dict[str, set[str]] = {task: set() for task, _, _ in TASKS}
    for key in ids:
        task, _, ident = key.partition("/")
        split.setdefault(task, set()).add(ident)
    return {task: bench.subset(data[task], split[task]) for task, bench, _ in TASKS}


def _prediction(trace: Trace, item: EvalItem) -> Prediction:
    task = item.id.partition("/")[0]
    bench = next(b for name, b, _ in TASKS if name == task)
    return bench.prediction(trace, item)


SYNTH = Benchmark(
    name="synth",
    title="Synthetic world (Charades-STA, NExT-GQA, Video-MME tasks)",
    annotation_help="the world folder WORLD holding charades_sta/, nextgqa/ and videomme/",
    prediction_help=(
        "framescope prediction JSON lines with ids 'charades_sta/…', 'nextgqa/…', 'videomme/…'"
    ),
    layout=LAYOUT,
    load=load,
    rules=_rules,
    items=_items,
    compat=("videomind",),
    read_predictions=read_predictions,
    subset=_subset,
    prediction=_prediction,
)
