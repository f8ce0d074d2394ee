"""Reading benchmark and prediction files with errors that name the file and the line."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from framescope.errors import AnnotationError, MissingFileError, PredictionError
from framescope.types import Prediction


def read_text(path: Path, error: type[AnnotationError] = AnnotationError) -> str:
    if not path.is_file():
        raise MissingFileError(f"{path}: no such file")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise error(f"not UTF-8 text ({e.reason} at byte {e.start})", str(path)) from None


def parse_json(text: str, path: Path, error: type[AnnotationError] = AnnotationError) -> Any:
    """Parse the JSON ``text`` read from ``path``; a syntax error names its line (for callers
    that also need the text, e.g. for :func:`key_lines`)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise error(f"invalid JSON: {e.msg} (column {e.colno})", str(path), e.lineno) from None


def read_json(path: Path, error: type[AnnotationError] = AnnotationError) -> Any:
    """Parse a JSON file; a syntax error names its line."""
    return parse_json(read_text(path, error), path, error)


def _jsonl_rows(text: str, path: Path, error: type[AnnotationError]) -> list[tuple[int, Any]]:
    rows = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append((lineno, json.loads(line)))
        except json.JSONDecodeError as e:
            raise error(f"invalid JSON: {e.msg} (column {e.colno})", str(path), lineno) from None
    return rows


def read_jsonl(path: Path, error: type[AnnotationError] = AnnotationError) -> list[tuple[int, Any]]:
    """``(line number, object)`` for every non-blank line of a JSON-lines file."""
    return _jsonl_rows(read_text(path, error), path, error)


def json_records(
    text: str, path: Path, error: type[AnnotationError] = AnnotationError
) -> list[tuple[int, Any]]:
    """Records of the text of a file that is either JSON lines or one JSON list, each with its
    line number (for a JSON list: the line where the record starts)."""
    if not text.lstrip().startswith("["):
        return _jsonl_rows(text, path, error)
    data = parse_json(text, path, error)
    return list(zip(_item_lines(text, len(data)), data))


def read_json_records(
    path: Path, error: type[AnnotationError] = AnnotationError
) -> list[tuple[int, Any]]:
    """:func:`json_records` of the file at ``path``."""
    return json_records(read_text(path, error), path, error)


def _item_lines(text: str, count: int) -> list[int]:
    """Line on which each top-level item of a JSON list starts (best effort: 0 when unsure)."""
    lines, depth, in_string, escape, line = [], 0, False, False, 1
    expect_item = False
    for ch in text:
        if ch == "\n":
            line += 1
        if in_string:
            if escape:
                escape = False
            elif ch == "\\":
                escape = True
            elif ch == '"':
                in_string = False
            continue
        if depth == 1 and expect_item and not ch.isspace() and ch not in ",]":
            lines.append(line)
            expect_item = False
        if ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth == 1:
                expect_item = True
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 1:
            expect_item = True
    return lines + [0] * (count - len(lines))


def line_of(text: str, needle: str) -> int | None:
    """1-based line of the first occurrence of ``needle`` (for errors inside a JSON object)."""
    at = text.find(needle)
    return text.count("\n", 0, at) + 1 if at >= 0 else None


def key_lines(text: str) -> dict[str, int]:
    """Line of the first occurrence of every ``"key":`` in a JSON text, in one pass (the
    per-key errors of a large object-keyed file then cost nothing until one is raised)."""
    lines: dict[str, int] = {}
    line, last = 1, 0
    for m in re.finditer(r'"((?:[^"\\]|\\.)*)"\s*:', text):
        line += text.count("\n", last, m.start())
        last = m.start()
        lines.setdefault(m.group(1), line)
    return lines


def read_csv(path: Path, required: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    """Rows of a CSV file with a header, each with its line number; checks the columns."""
    text = read_text(path)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [c for c in required if c not in (reader.fieldnames or [])]
    if missing:
        raise AnnotationError(f"missing CSV column(s): {', '.join(missing)}", str(path), 1)
    rows = []
    try:
        for row in reader:
            if None in row or any(v is None for v in row.values()):
                raise AnnotationError(
                    f"expected {len(reader.fieldnames or [])} fields", str(path), reader.line_num
                )
            rows.append((reader.line_num, row))
    except csv.Error as e:
        raise AnnotationError(f"invalid CSV: {e}", str(path), reader.line_num) from None
    return rows


def expect_file(paths: Sequence[Path], names: Sequence[str], benchmark: str, what: str) -> Path:
    """Find the file a benchmark needs among ``--annotations`` paths.

    A given file is used as is when only one is passed and ``names`` has no other candidate
    among the paths; a folder is searched for ``names`` in order. The error says what is
    expected and where it was looked for."""
    for p in paths:
        if not p.exists():
            raise MissingFileError(f"{benchmark}: {p} does not exist (expected {what})")
    for p in paths:
        if p.is_file() and p.name in names:
            return p
    files = [p for p in paths if p.is_file()]
    if len(files) == 1 and len(paths) == 1:
        return files[0]
    for p in paths:
        if p.is_dir():
            for name in names:
                if (p / name).is_file():
                    return p / name
    searched = ", ".join(str(p) for p in paths) or "(no --annotations given)"
    raise MissingFileError(
        f"{benchmark}: expected {what} ({' or '.join(names)}); not found in {searched}"
    )


def is_framescope_jsonl(path: Path) -> bool:
    """True when the first record of a JSON-lines file is a framescope prediction (has ``id``)."""
    for line in read_text(path, PredictionError).splitlines():
        if line.strip():
            try:
                first = json.loads(line)
            except json.JSONDecodeError:
                return path.suffix == ".jsonl"
            return isinstance(first, dict) and "id" in first
    return path.suffix == ".jsonl"


def read_predictions(path: Path) -> tuple[dict[str, Prediction], list[str]]:
    """framescope prediction JSON lines → ``{id: Prediction}`` plus notes. A repeated id keeps
    its last record (a resumed run appends retries)."""
    out: dict[str, Prediction] = {}
    repeated = 0
    for lineno, obj in read_jsonl(path, PredictionError):
        try:
            pred = Prediction.from_dict(obj)
        except ValueError as e:
            raise PredictionError(str(e), str(path), lineno) from None
        repeated += pred.id in out
        out[pred.id] = pred
    if not out:
        raise PredictionError("no predictions in the file", str(path))
    notes = [f"{repeated} repeated prediction id(s) in {path}: the last record of each counts"]
    return out, notes if repeated else []


def read_table(path: Path, required: Sequence[str]) -> list[tuple[int, dict[str, Any]]]:
    """Rows of a result table with a header — ``.xlsx`` (needs openpyxl: ``pip install
    framescope[xlsx]``), ``.tsv``/``.csv``, or a ``.json`` list of records — each with its line
    (the spreadsheet row, the CSV line, the record's line); checks the columns."""
    if path.suffix == ".xlsx":
        rows = _xlsx_rows(path)
    elif path.suffix in (".tsv", ".csv"):
        rows = _csv_rows(path, "\t" if path.suffix == ".tsv" else ",")
    else:
        rows = [(line, r) for line, r in read_json_records(path, PredictionError)]
        if not all(isinstance(r, dict) for _, r in rows):
            raise PredictionError("expected a JSON list of row objects", str(path), 1)
    for line, row in rows:
        missing = [c for c in required if c not in row]
        if missing:
            raise PredictionError(f"missing column(s): {', '.join(missing)}", str(path), line)
    return rows


def _csv_rows(path: Path, delimiter: str) -> list[tuple[int, dict[str, Any]]]:
    text = read_text(path, PredictionError)
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        return [(reader.line_num, dict(row)) for row in reader]
    except csv.Error as e:
        raise PredictionError(f"invalid table: {e}", str(path), reader.line_num) from None


def _xlsx_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    try:
        import openpyxl
    except ImportError:
        raise PredictionError(
            "reading .xlsx needs openpyxl (pip install 'framescope[xlsx]')", str(path)
        ) from None
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # zipfile, XML and openpyxl's own errors: not a workbook
        raise PredictionError(f"not a readable .xlsx workbook ({e})", str(path)) from None
    sheet = book.worksheets[0]
    values = sheet.iter_rows(values_only=True)
    header = [str(h) for h in next(values, ())]
    rows = [(k, dict(zip(header, row))) for k, row in enumerate(values, start=2)]
    book.close()
    return rows
