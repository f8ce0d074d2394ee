"""What ``framescope eval`` needs from a benchmark beyond scoring: where its files lie under
``--data-root`` (the layout its release ships), the samples to run (:class:`EvalItem`) and how a
method's :class:`~framescope.types.Trace` becomes the benchmark's
:class:`~framescope.types.Prediction`.

Kept free of the model runtime (no torch import), so that listing benchmarks stays fast; the
runner turns an :class:`EvalItem` into the runtime's ``Sample``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

from framescope.errors import MissingFileError
from framescope.text import Spans
from framescope.types import Prediction, Trace, Window

if TYPE_CHECKING:
    from framescope.types import Sample

VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".avi", ".mov")


@dataclass(frozen=True)
class Layout:
    """Where a benchmark's files lie under ``--data-root``, as its release ships them.

    ``annotations`` are handed to the benchmark's ``load`` (relative to the data root; ``""`` is
    the root itself, searched for the benchmark's file names); ``videos`` are candidate video
    folders, the first that exists is used (``--video-dir`` overrides); ``tree`` describes the
    expected layout for ``--help`` and errors.
    """

    annotations: tuple[str, ...]
    videos: tuple[str, ...]
    tree: str


@dataclass(frozen=True)
class EvalItem:
    """One sample to run: what the method gets — the ``video``, the bare ``question`` (or
    moment query) as annotated, the benchmark's task ``prompt`` that contains it (the text a
    method shows the model before the options: :mod:`framescope.eval.prompts`), the ``options``
    — and, for the report, the ground-truth ``windows`` and the annotated ``duration`` (seconds;
    ``None`` when the annotations do not say)."""

    id: str
    video: str
    question: str
    prompt: str
    options: tuple[str, ...] = ()
    windows: tuple[Window, ...] = ()
    duration: float | None = None

    def sample(self) -> Sample:
        """The runtime's sample (imported here: the runtime pulls in torch)."""
        from framescope.types import Sample

        return Sample(self.id, self.video, self.question, self.options, prompt=self.prompt)


def find_video_dir(
    benchmark: str, data_root: Path, candidates: Sequence[str], override: Path | None
) -> Path:
    """The video folder: ``override`` when given, else the first of ``candidates`` under
    ``data_root`` that exists; the error names what was expected where."""
    if override is not None:
        if not override.is_dir():
            raise MissingFileError(f"{benchmark}: video folder {override} does not exist")
        return override
    for rel in candidates:
        if (data_root / rel).is_dir():
            return data_root / rel
    expected = " or ".join(f"{data_root / rel}/" for rel in candidates)
    raise MissingFileError(f"{benchmark}: expected the videos in {expected} (or pass --video-dir)")


def video_file(folder: Path, stem: str, extensions: Sequence[str] = (".mp4",)) -> str:
    """``folder/stem`` with the first of ``extensions`` that exists; the first extension when
    none does (the runner then records the sample as a missing video, naming that path)."""
    for ext in extensions:
        if (folder / f"{stem}{ext}").is_file():
            return str(folder / f"{stem}{ext}")
    return str(folder / f"{stem}{extensions[0]}")


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


T = TypeVar("T", bound=_Identified)


def keep(data: Sequence[T], ids: Collection[str]) -> list[T]:
    """The annotated samples whose ``id`` is in ``ids``, in annotation order (``--limit``)."""
    wanted = set(ids)
    return [s for s in data if s.id in wanted]


def trace_prediction(
    trace: Trace, read_windows: Callable[[str], Spans] | None = None
) -> Prediction:
    """A method's trace as a prediction record (:meth:`Trace.to_prediction`: the ranked windows
    the answer names — with their scores when the method ranked them — else the windows it
    fetched; the raw response; the error), with ``answer`` the answer *text* (the ``<answer>``
    content, else the text after ``</think>``) so that each benchmark's official extractor reads
    the letter from it, as its script reads a model's reply. ``read_windows`` replaces the
    runtime's span reading with a benchmark's own (CG-Bench) when it finds any."""
    if trace.error is not None:
        return Prediction(trace.id, response=trace.response or None, error=trace.error)
    pred = trace.to_prediction()
    pred.answer = trace.answer.text or None
    if read_windows is not None:
        named = read_windows(trace.answer.text).windows
        if named:
            pred.windows, pred.scores = list(named), None
    return pred
