"""A small total ``.srt`` reader and the Answerer's subtitle lines for a clip.

:func:`parse_srt` never raises: a block whose timing line cannot be read is skipped and counted.
Accepted: an optional index line, ``H:MM:SS,mmm --> H:MM:SS,mmm`` with ``,`` or ``.`` before the
milliseconds (or none), any number of text lines (joined with a space, markup tags such as
``<i>`` removed), CRLF or CR line ends, a UTF-8 byte-order mark.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

from framescope.errors import FramescopeError
from framescope.types import Window

MAX_LINES = 100  # subtitle lines given to the Answerer (the release: "to save memory")

_TIME = r"(\d+):(\d{1,2}):(\d{1,2})(?:[,.](\d{1,3}))?"
_TIMING = re.compile(rf"^\s*{_TIME}\s*-->\s*{_TIME}")
_TAG = re.compile(r"<[^>]*>|\{\\[^}]*\}")  # <i>, </font>, {\an8}


@dataclass(frozen=True)
class Cue:
    """One subtitle: absolute seconds and its text on one line."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Subtitles:
    """The readable cues in file order and how many blocks were skipped."""

    cues: tuple[Cue, ...]
    skipped: int = 0


def _seconds(h: str, m: str, s: str, ms: str | None) -> float:
    return int(h) * 3600 + int(m) * 60 + int(s) + int((ms or "0").ljust(3, "0")) / 1000


def parse_srt(text: str) -> Subtitles:
    """Cues of an ``.srt`` text (see the module docstring); never raises."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    cues, skipped = [], 0
    for block in re.split(r"\n[ \t]*\n", text.strip()):
        lines = block.split("\n")
        timing = next((k for k, line in enumerate(lines[:2]) if "-->" in line), None)
        found = _TIMING.match(lines[timing]) if timing is not None else None
        if timing is None or found is None:
            skipped += bool(block.strip())
            continue
        g = found.groups()
        start, end = _seconds(*g[:4]), _seconds(*g[4:])
        body = " ".join(_TAG.sub("", line).strip() for line in lines[timing + 1 :])
        body = " ".join(body.split())
        if end < start or not body:
            skipped += 1
            continue
        cues.append(Cue(start, end, body))
    return Subtitles(tuple(cues), skipped)


def read_srt(path: str | os.PathLike[str]) -> Subtitles:
    """:func:`parse_srt` of a file (undecodable bytes replaced); an unreadable file raises."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return parse_srt(f.read())
    except OSError as e:
        raise FramescopeError(f"{path}: cannot read the subtitles ({e.strerror or e})") from e


def clip_lines(cues: Sequence[Cue], clip: Window, limit: int = MAX_LINES) -> list[str]:
    """The release's subtitle lines for a clip: cues lying wholly inside ``clip``, times relative
    to its start (as the model sees the clip), ``"{start}s - {end}s, {text}"``, the first
    ``limit``."""
    inside = [c for c in cues if c.start >= clip.start and c.end <= clip.end]
    return [
        f"{round(c.start - clip.start, 1)}s - {round(c.end - clip.start, 1)}s, {c.text}"
        for c in inside[:limit]
    ]


def frame_lines(cues: Sequence[Cue], times: Sequence[float]) -> list[str]:
    """The subtitles of the frames shown (Video-MME's "w/ subs" setting: only the subtitles of
    the sampled frames): each cue whose ``[start, end)`` holds a frame's time, once, in file
    order."""
    return [c.text for c in cues if any(c.start <= t < c.end for t in times)]
