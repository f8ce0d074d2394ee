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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from framescope.errors import MissingFileError
from framescope.eval.benchmarks.base import Result, require_compat, single_prediction_file
from framescope.eval.benchmarks.layout import EvalItem, Layout, find_video_dir
from framescope.eval.benchmarks.moment_retrieval import CHARADES_STA
from framescope.eval.benchmarks.nextgqa import NEXTGQA
from framescope.eval.benchmarks.videomme import VIDEOMME
from framescope.eval.files import read_predictions
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


@dataclass(frozen=True)
class Synth:
    name: str = "synth"
    title: str = "Synthetic world (Charades-STA, NExT-GQA, Video-MME tasks)"
    annotation_help: str = "the world folder WORLD holding charades_sta/, nextgqa/ and videomme/"
    prediction_help: str = (
        "framescope prediction JSON lines with ids 'charades_sta/…', 'nextgqa/…', 'videomme/…'"
    )
    compat: tuple[str, ...] = ("videomind",)
    layout: Layout = LAYOUT

    def load(self, paths: Sequence[Path]) -> dict[str, Any]:
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

    def read_predictions(
        self, paths: Sequence[Path], data: dict[str, Any]
    ) -> tuple[dict[str, dict[str, Prediction]], list[str]]:
        records, notes = read_predictions(single_prediction_file(paths, self.name))
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

    def score(
        self,
        data: dict[str, Any],
        predictions: tuple[dict[str, dict[str, Prediction]], list[str]],
        compat: str | None = None,
    ) -> Result:
        require_compat(self, compat)
        split, notes = predictions
        metrics, breakdowns, counts = {}, {}, {}
        for task, bench, _ in TASKS:
            if not data[task]:  # a partial run (framescope eval --limit) left it out
                notes.append(f"{task}: no samples, not scored")
                continue
            result = bench.score(data[task], (split[task], []), compat)
            metrics.update({f"{task}/{k}": v for k, v in result.metrics.items()})
            counts.update({f"{task}/{k}": v for k, v in result.counts.items()})
            if result.breakdowns:
                breakdowns[task] = result.breakdowns
            notes += [f"{task}: {n}" for n in result.notes]
        return Result(self.name, self.title, metrics, breakdowns, counts, notes, compat)

    def items(
        self, data: dict[str, Any], data_root: Path, video_dir: Path | None
    ) -> list[EvalItem]:
        folder = find_video_dir(self.name, data_root, self.layout.videos, video_dir)
        return [
            dataclasses.replace(item, id=f"{task}/{item.id}")
            for task, bench, _ in TASKS
            for item in bench.items(data[task], data_root / task, folder)
        ]

    def subset(self, data: dict[str, Any], ids: Collection[str]) -> dict[str, Any]:
        split: dict[str, set[str]] = {task: set() for task, _, _ in TASKS}
        for key in ids:
            task, _, ident = key.partition("/")
            split.setdefault(task, set()).add(ident)
        return {task: bench.subset(data[task], split[task]) for task, bench, _ in TASKS}

    def prediction(self, trace: Trace, item: EvalItem) -> Prediction:
        task = item.id.partition("/")[0]
        bench = next(b for name, b, _ in TASKS if name == task)
        return bench.prediction(trace, item)


SYNTH = Synth()
