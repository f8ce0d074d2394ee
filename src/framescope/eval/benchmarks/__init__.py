"""Benchmarks by name. Each module loads its official annotation files, reads its official
result format and framescope's prediction JSON lines, and scores them with the official rules;
its docstring names the official script it follows and how each ``--compat`` variant differs.

A benchmark is data: a :class:`~framescope.eval.benchmarks.base.Benchmark` holds its names, the
layout of its release and plain functions (load, read, score, items …) with defaults for what most
benchmarks share. Plug in another one with :func:`register`.
"""

from __future__ import annotations

from framescope.errors import EvalError
from framescope.eval.benchmarks.base import Benchmark, Result
from framescope.eval.benchmarks.cgbench import CGBENCH
from framescope.eval.benchmarks.lvbench import LVBENCH
from framescope.eval.benchmarks.mlvu import MLVU_BENCH
from framescope.eval.benchmarks.moment_retrieval import ACTIVITYNET, CHARADES_STA
from framescope.eval.benchmarks.nextgqa import NEXTGQA
from framescope.eval.benchmarks.qvhighlights import QVHIGHLIGHTS
from framescope.eval.benchmarks.rextime import REXTIME
from framescope.eval.benchmarks.synth import SYNTH
from framescope.eval.benchmarks.videomme import VIDEOMME, VIDEOMME_SUBS

BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in (
        CHARADES_STA,
        ACTIVITYNET,
        QVHIGHLIGHTS,
        NEXTGQA,
        REXTIME,
        CGBENCH,
        VIDEOMME,
        VIDEOMME_SUBS,
        MLVU_BENCH,
        LVBENCH,
        SYNTH,
    )
}


def register(benchmark: Benchmark) -> Benchmark:
    """Add (or replace) a benchmark under ``benchmark.name``."""
    BENCHMARKS[benchmark.name] = benchmark
    return benchmark


def get_benchmark(name: str) -> Benchmark:
    try:
        return BENCHMARKS[name]
    except KeyError:
        raise EvalError(f"unknown benchmark {name!r} (known: {', '.join(BENCHMARKS)})") from None


__all__ = ["BENCHMARKS", "Benchmark", "Result", "get_benchmark", "register"]
