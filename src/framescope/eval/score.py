"""Score predictions against a benchmark's official annotations: one call, a table, a JSON file."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from framescope.errors import PredictionError
from framescope.eval.benchmarks import get_benchmark
from framescope.eval.benchmarks.base import Result, Scoring, require_compat
from framescope.eval.files import is_framescope_jsonl, read_predictions
from framescope.fileio import write_json


def score(
    benchmark: str,
    annotations: Sequence[str | os.PathLike[str]],
    predictions: Sequence[str | os.PathLike[str]],
    compat: str | None = None,
    subset: bool = False,
    *,
    conf_thr: float = -1.0,
    normalised_time: bool = False,
) -> Result:
    """Load ``benchmark``'s annotation files, read the predictions (its official result format
    or framescope prediction JSON lines) and score them — the official way unless ``compat``
    names a re-implementation to reproduce (``"lmms-eval"`` or ``"videomind"``). ``subset``:
    score only the samples framescope prediction files hold (an ``eval --limit`` run), labelled
    as a subset, instead of requiring every annotated sample. ``conf_thr``: VideoMind's
    confidence threshold (CG-Bench, ``compat="videomind"``); ``normalised_time``: NExT-GQA
    grounding given as fractions of the video (its gs mode)."""
    bench = get_benchmark(benchmark)
    how = Scoring(compat, conf_thr, normalised_time)
    require_compat(bench, compat)
    data = bench.load([Path(p) for p in annotations])
    paths = [Path(p) for p in predictions]
    notes = []
    if subset:
        ids: set[str] = set()
        for path in paths:
            if not is_framescope_jsonl(path):
                raise PredictionError(f"{path}: --subset reads framescope prediction JSON lines")
            ids |= set(read_predictions(path)[0])
        data = bench.subset(data, ids)
        notes.append(f"a subset: only the {len(ids)} samples with a prediction (--subset)")
    result = bench.score(data, bench.read_predictions(paths, data), how)
    result.notes.extend(notes)
    return result


def _flatten(prefix: str, value: Any, rows: list[tuple[str, Any]]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}/{k}" if prefix else str(k), v, rows)
    else:
        rows.append((prefix, value))


def _fmt(value: Any) -> str:
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def format_table(result: Result) -> str:
    """Plain-text table: headline metrics, counts, breakdowns (flattened), notes."""
    title = f"{result.title} ({result.benchmark})"
    if result.compat:
        title += f" — compat {result.compat}"
    lines = [title]
    sections: list[tuple[str, list[tuple[str, Any]]]] = [("metric", list(result.metrics.items()))]
    if result.counts:
        sections.append(("count", list(result.counts.items())))
    for name, block in result.breakdowns.items():
        rows: list[tuple[str, Any]] = []
        _flatten("", block, rows)
        sections.append((name, rows))
    width = max([len(k) for _, rows in sections for k, _ in rows] + [10])
    for head, rows in sections:
        lines.append("")
        lines.append(f"{head:<{width}}  value")
        lines.append(f"{'-' * width}  {'-' * 8}")
        lines.extend(f"{k:<{width}}  {_fmt(v):>8}" for k, v in rows)
    if result.notes:
        lines.append("")
        lines.extend(f"note: {n}" for n in result.notes)
    return "\n".join(lines)


def write_result(
    path: str | os.PathLike[str],
    result: Result,
    annotations: Sequence[str | os.PathLike[str]] = (),
    predictions: Sequence[str | os.PathLike[str]] = (),
) -> Path:
    """Atomically write the result (and the inputs it came from) as JSON."""
    payload = result.to_dict()
    payload["annotations"] = [str(p) for p in annotations]
    payload["predictions"] = [str(p) for p in predictions]
    return write_json(path, payload)
