"""A benchmark as data (:class:`Benchmark`), the result it returns, and shared prediction helpers."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from framescope.errors import EvalError, PredictionError
from framescope.eval.benchmarks.layout import EvalItem, Layout, Videos, keep, trace_prediction
from framescope.eval.files import expect_file, is_framescope_jsonl, read_predictions
from framescope.text import Spans, parse_spans
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


@dataclass(frozen=True)
class Scoring:
    """How to score: the official rules, or those of the re-implementation ``compat`` names, and
    the options a benchmark's own script takes."""

    compat: str | None = None
    conf_thr: float = -1.0  # VideoMind's --conf_thr (CG-Bench, --compat videomind)
    normalised_time: bool = False  # NExT-GQA grounding in fractions of the video (gs=True)


@dataclass
class Scores:
    """What a benchmark's rules compute (:class:`Result` without the benchmark's names)."""

    metrics: dict[str, float]
    breakdowns: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


# read predictions (framescope records by id, or a benchmark's official format) plus notes
Read = tuple[Any, list[str]]


def pct(x: float) -> float:
    return 100.0 * x


def single_prediction_file(paths: Sequence[Path]) -> Path:
    if len(paths) != 1:
        raise PredictionError(f"expected one predictions file, got {len(paths)}")
    if not paths[0].is_file():
        raise PredictionError(f"predictions file {paths[0]} does not exist")
    return paths[0]


def framescope_records(paths: Sequence[Path], data: Any) -> Read:
    """One file of framescope prediction JSON lines."""
    return read_predictions(single_prediction_file(paths))


def records_or(official: Callable[[Path], Any]) -> Callable[[Sequence[Path], Any], Read]:
    """A reader of one file: framescope prediction JSON lines, else the benchmark's official
    result format (``official``)."""

    def read(paths: Sequence[Path], data: Any) -> Read:
        path = single_prediction_file(paths)
        return read_predictions(path) if is_framescope_jsonl(path) else (official(path), [])

    return read


def annotation_file(
    load: Callable[[Path], Any], names: Sequence[str], benchmark: str, what: str
) -> Callable[[Sequence[Path]], Any]:
    """A ``load`` of one annotation file: the first of ``names`` among the given paths (or in a
    given folder), read by ``load``."""
    return lambda paths: load(expect_file(paths, names, benchmark, what))


@dataclass(frozen=True)
class Benchmark:
    """A benchmark as data: its names and help, the layout of its release, and plain functions —
    ``load`` its official annotation files, ``read_predictions`` (its official result format or
    framescope's prediction JSON lines; default: framescope's only), ``rules`` that score them
    (the official script's, or a ``compat`` re-implementation's), and for ``framescope eval``
    the ``items`` to run, the ``subset`` a ``--limit`` run is scored on and how a method's
    trace becomes a ``prediction``."""

    name: str
    title: str
    annotation_help: str  # which files --annotations expects
    prediction_help: str  # which formats --predictions accepts
    layout: Layout  # where framescope eval finds the annotations and videos under --data-root
    load: Callable[[Sequence[Path]], Any]
    rules: Callable[[Any, Any, Scoring], Scores]
    items: Callable[[Any, Videos], list[EvalItem]]  # the samples to run, in annotation order
    compat: tuple[str, ...] = ()  # re-implementations whose numbers --compat reproduces
    read_predictions: Callable[[Sequence[Path], Any], Read] = framescope_records
    subset: Callable[[Any, Collection[str]], Any] = keep
    prediction: Callable[[Trace, EvalItem], Prediction] = trace_prediction

    def score(self, data: Any, predictions: Read, how: Scoring | str | None = None) -> Result:
        """Score what :attr:`read_predictions` returned, the official way or as ``how`` says
        (a :class:`Scoring`, or just the ``compat`` name)."""
        how = how if isinstance(how, Scoring) else Scoring(how)
        require_compat(self, how.compat)
        found, notes = predictions
        s = self.rules(data, found, how)
        notes = [*notes, *s.notes]
        return Result(self.name, self.title, s.metrics, s.breakdowns, s.counts, notes, how.compat)

    def videos(self, data_root: Path, video_dir: Path | None = None) -> Videos:
        """The video folders of a run under ``data_root``."""
        return Videos(self.name, data_root, self.layout.videos, video_dir)


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
    """The text a benchmark's answer reader gets: the raw ``response`` as generated (official
    readers read the reply unchanged), else ``answer`` (a record or result file without the
    reply); ``None`` for a failed sample or one without either."""
    if pred is None or pred.error is not None:
        return None
    return pred.response if pred.response is not None else pred.answer


def check_coverage(ids: Iterable[str], predictions: Mapping[str, object], why: str) -> list[str]:
    """Raise when a sample has no prediction (the official script would fail on it); return a
    note about predictions whose ids are not in the annotations."""
    ids = list(ids)
    missing = [i for i in ids if i not in predictions]
    if missing:
        shown = ", ".join(missing[:5]) + (" …" if len(missing) > 5 else "")
        raise PredictionError(
            f"{len(missing)} of {len(ids)} samples have no prediction ({shown}); {why}"
        )
    return extra_note(ids, predictions)


def extra_note(ids: Iterable[str], predictions: Mapping[str, object]) -> list[str]:
    extra = len(set(predictions) - set(ids))
    return [f"{extra} prediction(s) with ids not in the annotations were ignored"] if extra else []


def require_compat(benchmark: Benchmark, compat: str | None) -> None:
    if compat is not None and compat not in benchmark.compat:
        have = ", ".join(benchmark.compat) or "none"
        raise EvalError(f"{benchmark.name} has no --compat {compat} variant (available: {have})")
