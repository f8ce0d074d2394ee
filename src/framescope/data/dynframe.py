"""DynFrame's training records (span-density retrieval, "DynFrame"): DM-CoT for SFT, DM-RL for RL.

**DM-CoT** (``dm_cot*.json``, LLaMA-Factory/ShareGPT rows)::

    {"video": ["data/videos/x.mp4"],
     "conversations": [{"from": "human", "value": "<video>\\n<question>"},
                       {"from": "gpt", "value": "<think>… <span>s - e</span><fps>k</fps><video>
                                                 …</think><answer>…</answer>"}],
     …}

Each ``<video>`` in the assistant turn stands for the clip sampled at the request right before it
(the release duplicates the row's video for it). :class:`DMCoTRecord` keeps the assistant text
split at those places into :class:`CoTSegment` s: every segment but the last ends with its request
(``…<span>s - e</span><fps>k</fps>``, the tokens the model must learn to write), the clip that
follows is runtime input, and the next segment starts after the ``<video>``. Requests are read
with the runtime's own grammar (:func:`framescope.retrieval.grammar.parse_request`), which accepts
DynFrame's spellings (spaces, integers or decimals, fractional densities) and a few more.

A row is bad (reported with its line, see :mod:`framescope.data.rows`) when: it is not one human
and one assistant turn; the human turn's ``<video>`` count differs from the number of videos; an
assistant ``<video>`` does not directly follow a readable request; a request's window is reversed,
empty or negative, or its density is not positive; or any ``<span>``/``<fps>`` tag is not part of
a request followed by ``<video>`` (SFT would teach the model to write requests the runtime never
answers).

**DM-RL** (``dm_rl*.jsonl``): ``{prompt, video, answer, fps, gt_span_start, gt_span_end}``;
:class:`DMRLRecord` keeps them (video resolved) and any other keys in ``extra``. An answer that is
a single letter A–H is a multiple-choice row, anything else a grounding row, as in the released
reward code.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from framescope.data import rows
from framescope.data.rows import BadRow, Loaded, RowError
from framescope.retrieval.grammar import (
    FPS_CLOSE,
    FPS_OPEN,
    SPAN_CLOSE,
    SPAN_OPEN,
    InvalidRequest,
    parse_request,
)
from framescope.text import answer_region
from framescope.types import RetrievalRequest, Window

VIDEO_TAG = "<video>"
CHOICE_LETTERS = frozenset("ABCDEFGH")  # the released reward's multiple-choice answers


@dataclass(frozen=True)
class CoTSegment:
    """Assistant text up to a retrieval (ending with the request as written) or to the end."""

    text: str
    request: RetrievalRequest | None = None  # None: the last segment


@dataclass(frozen=True)
class DMCoTRecord:
    """One DM-CoT row: videos, the human prompt, the assistant turn split at its retrievals."""

    videos: tuple[Path, ...]
    prompt: str  # the human turn as written, "<video>\n…"
    segments: tuple[CoTSegment, ...]
    response: str  # the assistant turn as written (``<video>`` where clips go)
    extra: dict[str, Any] = field(default_factory=dict)  # other keys (index, gemini_suggested_fps…)

    @property
    def video(self) -> Path:
        return self.videos[0]

    @property
    def requests(self) -> tuple[RetrievalRequest, ...]:
        return tuple(s.request for s in self.segments if s.request is not None)

    @property
    def question(self) -> str:
        """The prompt without its ``<video>`` placeholders."""
        return self.prompt.replace(VIDEO_TAG, "").strip()

    @property
    def answer(self) -> str:
        """The final answer region (``<answer>…</answer>`` content, stripped)."""
        return answer_region(self.response).strip()


@dataclass(frozen=True)
class DMRLRecord:
    """One DM-RL row: what a rollout is rewarded against."""

    prompt: str
    video: Path
    answer: str  # "s.ss - e.ss" (grounding) or an option letter
    fps: float  # the density the evidence needs
    gt_span_start: float
    gt_span_end: float
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def gt_span(self) -> Window:
        return Window(self.gt_span_start, self.gt_span_end)

    @property
    def is_choice(self) -> bool:
        """A multiple-choice row (answer is one letter A–H), else a grounding row."""
        return self.answer.strip().upper() in CHOICE_LETTERS

    @property
    def question(self) -> str:
        return self.prompt.replace(VIDEO_TAG, "").strip()


# ---------------------------------------------------------------------------- DM-CoT


def split_response(text: str) -> tuple[CoTSegment, ...]:
    """Split an assistant turn at each ``<video>``; raises :class:`RowError` on a bad request."""
    segments: list[CoTSegment] = []
    start = 0
    while (at := text.find(VIDEO_TAG, start)) >= 0:
        k = len(segments) + 1
        head = text[start:at].rstrip()
        request = parse_request(head)
        if isinstance(request, InvalidRequest):
            raise RowError(f"assistant <video> #{k} does not follow a request: {request.reason}")
        rows.check_window(request.window, f"retrieval {k}: span")
        if not request.fps > 0:
            raise RowError(f"retrieval {k}: fps must be positive, got {request.fps:g}")
        segments.append(CoTSegment(head, request))
        start = at + len(VIDEO_TAG)
    segments.append(CoTSegment(text[start:]))
    n = len(segments) - 1
    for tag in (SPAN_OPEN, SPAN_CLOSE, FPS_OPEN, FPS_CLOSE):
        if text.count(tag) != n:
            raise RowError(
                f"{text.count(tag)} {tag} tag(s) but {n} retrieval(s) followed by <video>: "
                "every request must be answered by a clip"
            )
    return tuple(segments)


def parse_dm_cot_row(value: Any, root: Path | None = None) -> DMCoTRecord:
    """One DM-CoT row as a record (raises :class:`RowError` naming the problem)."""
    row = rows.obj(value)
    videos = row.get("video")
    if isinstance(videos, str):
        videos = [videos]
    if not isinstance(videos, list) or not videos or not all(isinstance(v, str) for v in videos):
        raise RowError("'video' must be a non-empty list of paths")
    turns = row.get("conversations")
    if not isinstance(turns, list) or not all(isinstance(t, dict) for t in turns):
        raise RowError("'conversations' must be a list of {from, value} objects")
    roles = [t.get("from") for t in turns]
    if roles != ["human", "gpt"]:
        raise RowError(f"expected one human and one gpt turn, got {roles}")
    prompt = rows.text(turns[0], "value")
    response = rows.text(turns[1], "value")
    if prompt.count(VIDEO_TAG) != len(videos):
        raise RowError(
            f"the human turn has {prompt.count(VIDEO_TAG)} <video> tag(s) for {len(videos)} video(s)"
        )
    extra = {k: v for k, v in row.items() if k not in ("video", "conversations")}
    return DMCoTRecord(
        videos=tuple(rows.resolve_path(v, root) for v in videos),
        prompt=prompt,
        segments=split_response(response),
        response=response,
        extra=extra,
    )


def iter_dm_cot(
    path: str | os.PathLike[str],
    *,
    data_root: str | os.PathLike[str] | None = None,
    skipped: list[BadRow] | None = None,
) -> Iterator[DMCoTRecord]:
    """Stream a DM-CoT file; bad rows raise ``RecordError`` or go to ``skipped`` if given."""
    root = rows.data_root(data_root)
    return rows.read_rows(path, lambda v: parse_dm_cot_row(v, root), skipped)


def read_dm_cot(
    path: str | os.PathLike[str],
    *,
    data_root: str | os.PathLike[str] | None = None,
    skip_bad_rows: bool = False,
) -> Loaded[DMCoTRecord]:
    """Every record of a DM-CoT file (bad rows raise unless ``skip_bad_rows``; then reported)."""
    root = rows.data_root(data_root)
    return rows.load(path, lambda v: parse_dm_cot_row(v, root), skip_bad_rows)


# ---------------------------------------------------------------------------- DM-RL

_DM_RL_KEYS = ("prompt", "video", "answer", "fps", "gt_span_start", "gt_span_end")


def parse_dm_rl_row(value: Any, root: Path | None = None) -> DMRLRecord:
    """One DM-RL row as a record (raises :class:`RowError` naming the problem)."""
    row = rows.obj(value)
    gt = Window(rows.field_number(row, "gt_span_start"), rows.field_number(row, "gt_span_end"))
    rows.check_window(gt, "ground-truth span")
    return DMRLRecord(
        prompt=rows.text(row, "prompt"),
        video=rows.resolve_path(rows.text(row, "video"), root),
        answer=rows.text(row, "answer"),
        fps=rows.field_number(row, "fps", positive=True),
        gt_span_start=gt.start,
        gt_span_end=gt.end,
        extra={k: v for k, v in row.items() if k not in _DM_RL_KEYS},
    )


def iter_dm_rl(
    path: str | os.PathLike[str],
    *,
    data_root: str | os.PathLike[str] | None = None,
    skipped: list[BadRow] | None = None,
) -> Iterator[DMRLRecord]:
    """Stream a DM-RL file; bad rows raise ``RecordError`` or go to ``skipped`` if given."""
    root = rows.data_root(data_root)
    return rows.read_rows(path, lambda v: parse_dm_rl_row(v, root), skipped)


def read_dm_rl(
    path: str | os.PathLike[str],
    *,
    data_root: str | os.PathLike[str] | None = None,
    skip_bad_rows: bool = False,
) -> Loaded[DMRLRecord]:
    """Every record of a DM-RL file (bad rows raise unless ``skip_bad_rows``; then reported)."""
    root = rows.data_root(data_root)
    return rows.load(path, lambda v: parse_dm_rl_row(v, root), skip_bad_rows)
