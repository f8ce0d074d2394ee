"""Reading training-record files row by row, with the file and line of every row.

Files are JSON arrays (DM-CoT, LLaMA-Factory style) or JSON lines (DM-RL, VideoMind); which one
is read from the first character, not the extension. Both are streamed: a JSON array is decoded
one element at a time from a 1 MiB window, so a 74k-row DM-CoT file never has to be a single
string plus a single list in memory.

Bad rows are never dropped silently. A row parser raises :class:`RowError` with a reason; the
reader turns it into :class:`~framescope.errors.RecordError` (``path:line: reason``) or, when the
caller passes a ``skipped`` list (``skip_bad_rows=True`` in the ``read_*`` functions), appends a
:class:`BadRow` to it and goes on. A JSON syntax error inside an array cannot be skipped (the next
row's start is unknown) and always raises; in a JSON-lines file it is one bad row.

Video paths in the files are relative to a data root: the ``data_root`` argument (from a config),
else the ``FRAMESCOPE_DATA`` environment variable, else they stay as written.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TextIO, TypeVar

from framescope.errors import RecordError
from framescope.types import Window

DATA_ENV = "FRAMESCOPE_DATA"
_CHUNK = 1 << 20  # characters read at a time from a JSON array
_BLANK = re.compile(r"[ \t\n\r]*")  # JSON's whitespace

R = TypeVar("R")


class RowError(ValueError):
    """Raised by a row parser: ``str(error)`` is the reason the row is bad."""


@dataclass(frozen=True)
class BadRow:
    """A row that was skipped: where it is and why."""

    path: str
    line: int  # 1-based line where the row starts
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reason}"


@dataclass
class Loaded(Generic[R]):
    """The records read from one file, the line each starts on, and the rows skipped (only with
    ``skip_bad_rows=True``)."""

    path: str
    records: list[R]
    skipped: list[BadRow] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # lines[i]: 1-based line of records[i]

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[R]:
        return iter(self.records)

    def report(self) -> str:
        """One line per skipped row after a summary line (empty string when none was skipped)."""
        if not self.skipped:
            return ""
        head = f"{self.path}: skipped {len(self.skipped)} bad row(s), kept {len(self.records)}"
        return "\n".join([head, *(f"  {b}" for b in self.skipped)])


def data_root(root: str | os.PathLike[str] | None = None) -> Path | None:
    """The folder relative video paths are resolved against: ``root``, else ``$FRAMESCOPE_DATA``,
    else ``None`` (paths stay as written)."""
    if root is not None:
        return Path(root)
    env = os.environ.get(DATA_ENV)
    return Path(env) if env else None


def resolve_path(path: str, root: Path | None) -> Path:
    """``path`` under ``root`` unless it is absolute (or there is no root)."""
    p = Path(path)
    return p if p.is_absolute() or root is None else root / p


# ---------------------------------------------------------------------------- reading files


@dataclass(frozen=True)
class _Row:
    line: int
    value: Any
    error: str | None = None  # a JSON-lines syntax error: the row is bad


def iter_json_rows(path: str | os.PathLike[str]) -> Iterator[_Row]:
    """Every row of a JSON array or JSON-lines file with the line it starts on."""
    p = Path(path)
    if not p.is_file():
        raise RecordError("no such file", str(p))
    with open(p, encoding="utf-8-sig") as f:
        first = _first_char(f)
        f.seek(0)
        if first == "[":
            yield from _array_rows(f, str(p))
        elif first:
            yield from _jsonl_rows(f)


def _first_char(f: TextIO) -> str:
    while chunk := f.read(4096):
        stripped = chunk.lstrip()
        if stripped:
            return stripped[0]
    return ""


def _jsonl_rows(f: TextIO) -> Iterator[_Row]:
    for number, text in enumerate(f, start=1):
        if not text.strip():
            continue
        try:
            yield _Row(number, json.loads(text))
        except json.JSONDecodeError as e:
            yield _Row(number, None, f"invalid JSON: {e.msg} (column {e.colno})")


class _ArrayCursor:
    """A window onto a JSON array file: decode one element at a time, count lines as it goes."""

    def __init__(self, f: TextIO, path: str) -> None:
        self.f, self.path = f, path
        self.buf, self.pos, self.line, self.eof = "", 0, 1, False
        self.decoder = json.JSONDecoder()

    def fill(self) -> bool:
        """Read more text; False at the end of the file."""
        if self.eof:
            return False
        chunk = self.f.read(_CHUNK)
        if not chunk:  # leave the window as it is: error positions stay valid
            self.eof = True
            return False
        self.buf, self.pos = self.buf[self.pos :] + chunk, 0
        return True

    def advance(self, to: int) -> None:
        self.line += self.buf.count("\n", self.pos, to)
        self.pos = to

    def peek(self) -> str:
        """The next non-blank character ('' at the end of the file)."""
        while True:
            self.advance(_BLANK.match(self.buf, self.pos).end())  # type: ignore[union-attr]
            if self.pos < len(self.buf) or not self.fill():
                return self.buf[self.pos : self.pos + 1]

    def fail(self, message: str, at: int | None = None) -> RecordError:
        line = self.line + self.buf.count("\n", self.pos, at if at is not None else self.pos)
        return RecordError(message, self.path, line)

    def element(self) -> Any:
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as e:
                if self.fill():
                    continue
                raise self.fail(f"invalid JSON: {e.msg}", e.pos) from None
            # a number may continue past the window's edge: decide only with text after it
            if end == len(self.buf) and self.fill():
                continue
            self.advance(end)
            return value


def _array_rows(f: TextIO, path: str) -> Iterator[_Row]:
    cur = _ArrayCursor(f, path)
    cur.peek()
    cur.advance(cur.pos + 1)  # the "["
    if cur.peek() == "]":
        cur.advance(cur.pos + 1)
    else:
        while True:
            if not cur.peek():
                raise cur.fail("invalid JSON: the array is not closed")
            line = cur.line
            yield _Row(line, cur.element())
            sep = cur.peek()
            cur.advance(cur.pos + 1)
            if sep == "]":
                break
            if sep != ",":
                raise cur.fail(f"invalid JSON: expected ',' or ']' after a row, got {sep!r}")
    if cur.peek():
        raise cur.fail("invalid JSON: text after the closing ']'")


def _parsed_rows(
    path: str | os.PathLike[str],
    parse: Callable[[Any], R],
    skipped: list[BadRow] | None,
) -> Iterator[tuple[int, R]]:
    """``(line, parse(row))`` for every row (see :func:`read_rows`)."""
    where = str(path)
    for row in iter_json_rows(path):
        try:
            if row.error is not None:
                raise RowError(row.error)
            record = parse(row.value)
        except RowError as e:
            if skipped is None:
                raise RecordError(str(e), where, row.line) from None
            skipped.append(BadRow(where, row.line, str(e)))
            continue
        yield row.line, record


def read_rows(
    path: str | os.PathLike[str],
    parse: Callable[[Any], R],
    skipped: list[BadRow] | None = None,
) -> Iterator[R]:
    """``parse`` applied to every row; a :class:`RowError` raises :class:`RecordError` naming the
    file and line, or goes to ``skipped`` when a list is given."""
    return (record for _, record in _parsed_rows(path, parse, skipped))


def load(path: str | os.PathLike[str], parse: Callable[[Any], R], skip_bad_rows: bool) -> Loaded[R]:
    """All records of a file with their lines (see :func:`read_rows`)."""
    skipped: list[BadRow] | None = [] if skip_bad_rows else None
    pairs = list(_parsed_rows(path, parse, skipped))
    return Loaded(str(path), [r for _, r in pairs], skipped or [], [line for line, _ in pairs])


# ---------------------------------------------------------------------------- field checks


def obj(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RowError(f"a row must be a JSON object, got {type(value).__name__}")
    return value


def text(row: dict[str, Any], key: str, *, empty: bool = False) -> str:
    if key not in row:
        raise RowError(f"missing {key!r}")
    value = row[key]
    if not isinstance(value, str):
        raise RowError(f"{key!r} must be a string, got {type(value).__name__}")
    if not empty and not value.strip():
        raise RowError(f"{key!r} is empty")
    return value


def number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise RowError(f"{what} must be a finite number, got {value!r}")
    return float(value)


def field_number(row: dict[str, Any], key: str, *, positive: bool = False) -> float:
    if key not in row:
        raise RowError(f"missing {key!r}")
    value = number(row[key], repr(key))
    if positive and value <= 0:
        raise RowError(f"{key!r} must be positive, got {row[key]!r}")
    return value


def optional_number(row: dict[str, Any], key: str) -> float | None:
    return None if row.get(key) is None else field_number(row, key, positive=True)


def span(value: Any, what: str) -> Window:
    """``[start, end]`` in seconds with ``0 <= start < end`` (extra items, e.g. a score, ignored)."""
    if not isinstance(value, (list, tuple)) or len(value) < 2:
        raise RowError(f"{what} must be [start, end], got {value!r}")
    w = Window(number(value[0], f"{what} start"), number(value[1], f"{what} end"))
    check_window(w, what)
    return w


def check_window(w: Window, what: str) -> None:
    if w.start < 0:
        raise RowError(f"{what} {w.start:g} - {w.end:g} starts before 0")
    if not w.start < w.end:
        raise RowError(f"{what} {w.start:g} - {w.end:g} is empty or reversed")


def spans(value: Any, what: str) -> tuple[Window, ...]:
    """One ``[s, e]`` or a non-empty list of them."""
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], (list, tuple)):
        return tuple(span(v, f"{what}[{i}]") for i, v in enumerate(value))
    return (span(value, what),)
