"""What every benchmark module provides, the result it returns, and shared prediction helpers."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from framescope.errors import EvalError, PredictionError
from framescope.eval.benchmarks.layout import EvalItem, Layout
from framescope.text import Spans, answer_region, parse_spans
from framescope.types import Prediction, Trace, Window


@dataclass
class Result:
    """Scores of one benchmark run. ``metrics`` holds the headline numbers under the official
    names, in percent; ``breakdowns`` the per-category/duration/task tables (nested dicts, also
    percent); ``counts`` how many samples each denominator saw; ``notes`` what was skipped or
    assumed."""

    benchmark: str
    title: str
    metrics: dict[str, float]
    breakdowns: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    compat: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "benchmark": self.benchmark,
            "title": self.title,
            "compat": self.compat,
            "metrics": self.metrics,
            "breakdowns": self.breakdowns,
            "counts": self.counts,
            "notes": self.notes,
        }


class Benchmark(Protocol):
    """A benchmark: load its official annotation files, read predictions (its official result
    format or framescope's prediction JSON lines), and score them; for ``framescope eval`` also
    its file layout, the samples to run and how a method's trace becomes a prediction."""

    @property
    def name(self) -> str: ...

    @property
    def title(self) -> str: ...

    @property
    def annotation_help(self) -> str:
        """Which files ``--annotations`` expects."""

    @property
    def prediction_help(self) -> str:
        """Which formats ``--predictions`` accepts."""

    @property
    def compat(self) -> tuple[str, ...]:
        """Re-implementations whose numbers ``--compat`` reproduces."""

    def load(self, paths: Sequence[Path]) -> Any: ...

    def read_predictions(self, paths: Sequence[Path], data: Any) -> Any: ...

    def score(self, data: Any, predictions: Any, compat: str | None = None) -> Result: ...

    @property
    def layout(self) -> Layout:
        """Where ``framescope eval`` finds the annotations and videos under ``--data-root``."""

    def items(self, data: Any, data_root: Path, video_dir: Path | None) -> list[EvalItem]:
        """The samples to run, in annotation order (``video_dir`` overrides the layout's)."""

    def subset(self, data: Any, ids: Collection[str]) -> Any:
        """``data`` restricted to the samples ``ids`` (a ``--limit`` run is scored on those)."""

    def prediction(self, trace: Trace, item: EvalItem) -> Prediction:
        """A method's trace as this benchmark's prediction record."""


# framescope prediction records by id, plus notes on how they were read
Records = tuple[dict[str, Prediction], list[str]]


def pct(x: float) -> float:
    return 100.0 * x


def predicted_windows(
    pred: Prediction | None, parse: Callable[[str], Spans] = parse_spans
) -> list[Window]:
    """Ranked windows of a prediction: its ``windows``, else those read from its ``response``;
    none for a failed sample."""
    if pred is None or pred.error is not None:
        return []
    if pred.windows:
        return list(pred.windows)
    if pred.response:
        return list(parse(pred.response).windows)
    return []


def answer_text(pred: Prediction | None) -> str | None:
    """The text an answer extractor reads: ``answer`` when set, else the answer region of
    ``response``; ``None`` for a failed sample or one without either."""
    if pred is None or pred.error is not None:
        return None
    if pred.answer is not None:
        return pred.answer
    if pred.response is not None:
        return answer_region(pred.response)
    return None


def single_prediction_file(paths: Sequence[Path], benchmark: str) -> Path:
    if len(paths) != 1:
        raise PredictionError(f"{benchmark}: expected one predictions file, got {len(paths)}")
    if not paths[0].is_file():
        raise PredictionError(f"{benchmark}: predictions file {paths[0]} does not exist")
    return paths[0]


def check_coverage(
    ids: Iterable[str],
    predictions: Mapping[str, object],
    benchmark: str,
    why: str,
) -> list[str]:
    """Raise when a sample has no prediction (the official script would fail on it); return a
    note about predictions whose ids are not in the annotations."""
    ids = list(ids)
    missing = [i for i in ids if i not in predictions]
    if missing:
        shown = ", ".join(missing[:5]) + (" …" if len(missing) > 5 else "")
        raise PredictionError(
            f"{benchmark}: {len(missing)} of {len(ids)} samples have no prediction ({shown}); {why}"
        )
    return extra_note(ids, predictions)


def extra_note(ids: Iterable[str], predictions: Mapping[str, object]) -> list[str]:
    extra = len(set(predictions) - set(ids))
    return [f"{extra} prediction(s) with ids not in the annotations were ignored"] if extra else []


def require_compat(benchmark: Benchmark, compat: str | None) -> None:
    if compat is not None and compat not in benchmark.compat:
        have = ", ".join(benchmark.compat) or "none"
        raise EvalError(f"{benchmark.name} has no --compat {compat} variant (available: {have})")
