"""What ``framescope eval`` needs from a benchmark beyond scoring: where its files lie under
``--data-root`` (the layout its release ships), the samples to run (:class:`EvalItem`: the
runtime's :class:`~framescope.types.Sample` plus the ground truth the report draws) and how a
method's :class:`~framescope.types.Trace` becomes the benchmark's
:class:`~framescope.types.Prediction`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar

from framescope.errors import MissingFileError
from framescope.text import Spans
from framescope.types import Prediction, Sample, Trace, Window

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
    """One sample to run: ``sample`` is what the method gets (the video, the bare question or
    moment query as annotated, the benchmark's task ``prompt`` that contains it —
    :mod:`framescope.eval.prompts` — and the options); ``windows`` (ground truth) and the
    annotated ``duration`` (seconds; ``None`` when the annotations do not say) are for the
    report."""

    sample: Sample
    windows: tuple[Window, ...] = ()
    duration: float | None = None

    @property
    def id(self) -> str:
        return self.sample.id


@dataclass
class Videos:
    """The video folders of one run: ``override`` (``--video-dir``) when given, else the first of
    ``candidates`` under ``root`` (the data root) that exists. Looked up on first use, once per
    candidate list; the error names what was expected where."""

    benchmark: str
    root: Path
    candidates: tuple[str, ...]
    override: Path | None = None
    _found: dict[tuple[str, ...], Path] = field(default_factory=dict, repr=False)

    def folder(self, candidates: Sequence[str] | None = None) -> Path:
        """The folder among ``candidates`` (default: the layout's)."""
        wanted = tuple(candidates) if candidates is not None else self.candidates
        if wanted not in self._found:
            self._found[wanted] = find_video_dir(self.benchmark, self.root, wanted, self.override)
        return self._found[wanted]

    def file(
        self,
        stem: str,
        extensions: Sequence[str] = (".mp4",),
        candidates: Sequence[str] | None = None,
    ) -> str:
        """:func:`video_file` of ``stem`` in :meth:`folder`."""
        return video_file(self.folder(candidates), stem, extensions)


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


class Question(Protocol):
    """What an annotated question gives an :class:`EvalItem` (every benchmark's sample type)."""

    @property
    def id(self) -> str: ...

    @property
    def question(self) -> str: ...

    @property
    def options(self) -> tuple[str, ...]: ...

    @property
    def windows(self) -> tuple[Window, ...]: ...

    @property
    def duration(self) -> float | None: ...


Q = TypeVar("Q", bound=Question)


def question_items(
    data: Sequence[Q], prompt: Callable[[str], str], video: Callable[[Q], str]
) -> list[EvalItem]:
    """The items of annotated questions: ``prompt(question)`` is the task prompt, ``video(q)``
    the path of the question's video."""
    return [
        EvalItem(
            Sample(q.id, video(q), q.question, q.options, prompt=prompt(q.question)),
            q.windows,
            q.duration,
        )
        for q in data
    ]


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


T = TypeVar("T", bound=_Identified)


def keep(data: Sequence[T], ids: Collection[str]) -> list[T]:
    """The annotated samples whose ``id`` is in ``ids``, in annotation order (``--limit``)."""
    wanted = set(ids)
    return [s for s in data if s.id in wanted]


def trace_prediction(
    trace: Trace, item: EvalItem | None = None, read_windows: Callable[[str], Spans] | None = None
) -> Prediction:
    """A method's trace as a prediction record (:meth:`Trace.to_prediction`: the ranked windows
    the answer names — with their scores when the method ranked them — else the windows it
    fetched; the raw response; the error), with ``answer`` the answer *text* (the ``<answer>``
    content, else the text after ``</think>``). ``read_windows`` replaces them with the windows
    a benchmark's own reader (CG-Bench) finds in the raw reply, when it finds any."""
    if trace.error is not None:
        return Prediction(trace.id, response=trace.response or None, error=trace.error)
    pred = trace.to_prediction()
    pred.answer = trace.answer.text or None
    if read_windows is not None:
        named = read_windows(trace.response).windows
        if named:
            pred.windows, pred.scores = list(named), None
    return pred
