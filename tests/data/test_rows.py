"""Row reading: JSON arrays streamed across window edges, JSON lines, line numbers, bad rows."""

from __future__ import annotations

import json

import pytest

from framescope.data import rows
from framescope.data.rows import BadRow, RowError, iter_json_rows, load, read_rows
from framescope.errors import AnnotationError, RecordError


def _positive(value):
    row = rows.obj(value)
    x = rows.field_number(row, "x", positive=True)
    return x


@pytest.mark.parametrize("chunk", [1, 3, 7, 1 << 20])
def test_json_array_rows_and_their_lines_whatever_the_window(tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(rows, "_CHUNK", chunk)
    p = tmp_path / "a.json"
    p.write_text('\ufeff  [\n  {"x": 1},\n  {"x": 22.5,\n   "y": "a,]"},\n\n  {"x": 1e3}\n]\n')
    got = [(r.line, r.value) for r in iter_json_rows(p)]
    assert got == [(2, {"x": 1}), (3, {"x": 22.5, "y": "a,]"}), (6, {"x": 1000.0})]


@pytest.mark.parametrize("chunk", [1, 2, 1 << 20])
def test_a_number_cut_by_the_window_edge_is_read_whole(tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(rows, "_CHUNK", chunk)
    p = tmp_path / "n.json"
    p.write_text("[12345, 6]")
    assert [r.value for r in iter_json_rows(p)] == [12345, 6]


def test_empty_files_and_arrays_have_no_rows(tmp_path):
    for text in ("", "  \n", "[]", " [ \n ] \n"):
        p = tmp_path / "e.json"
        p.write_text(text)
        assert list(iter_json_rows(p)) == []


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ('[\n{"x": 1},\n{"x": }\n]', 3, "invalid JSON"),
        ('[\n{"x": 1}\n{"x": 2}]', 3, "expected ','"),
        ('[\n{"x": 1},\n', 3, "not closed"),
        ('[{"x": 1}]\n[2]', 2, "after the closing"),
    ],
)
def test_array_syntax_errors_raise_with_the_line(tmp_path, text, line, message):
    p = tmp_path / "bad.json"
    p.write_text(text)
    with pytest.raises(RecordError, match=message) as info:
        list(iter_json_rows(p))
    assert info.value.line == line and info.value.path == str(p)
    assert isinstance(info.value, AnnotationError)


def test_jsonl_bad_rows_raise_with_file_and_line_or_are_reported(tmp_path):
    p = tmp_path / "r.jsonl"
    p.write_text('{"x": 1}\n\n{"x": -2}\n{"x": \n[3]\n{"x": 4}')
    with pytest.raises(RecordError) as info:
        list(read_rows(p, _positive))
    assert str(info.value) == f"{p}:3: 'x' must be positive, got -2"
    skipped: list[BadRow] = []
    assert list(read_rows(p, _positive, skipped)) == [1.0, 4.0]
    assert [(b.line, b.reason.split(":")[0]) for b in skipped] == [
        (3, "'x' must be positive, got -2"),
        (4, "invalid JSON"),
        (5, "a row must be a JSON object, got list"),
    ]
    loaded = load(p, _positive, skip_bad_rows=True)
    assert loaded.records == [1.0, 4.0] and len(loaded.skipped) == 3
    assert loaded.lines == [1, 6]
    report = loaded.report().splitlines()
    assert report[0] == f"{p}: skipped 3 bad row(s), kept 2" and report[1].strip().startswith(
        f"{p}:3:"
    )


def test_missing_file_is_a_record_error(tmp_path):
    with pytest.raises(RecordError, match="no such file"):
        list(iter_json_rows(tmp_path / "nope.jsonl"))


def test_data_root_argument_then_environment(tmp_path, monkeypatch):
    monkeypatch.delenv(rows.DATA_ENV, raising=False)
    assert rows.data_root() is None
    assert rows.resolve_path("v/a.mp4", None).as_posix() == "v/a.mp4"
    monkeypatch.setenv(rows.DATA_ENV, str(tmp_path))
    assert rows.resolve_path("v/a.mp4", rows.data_root()) == tmp_path / "v/a.mp4"
    assert rows.data_root("elsewhere").as_posix() == "elsewhere"
    assert rows.resolve_path("/abs/a.mp4", tmp_path).as_posix() == "/abs/a.mp4"


def test_field_checks_name_the_problem():
    with pytest.raises(RowError, match="missing 'q'"):
        rows.text({}, "q")
    with pytest.raises(RowError, match="'q' is empty"):
        rows.text({"q": "  "}, "q")
    with pytest.raises(RowError, match="finite number"):
        rows.number(float("nan"), "x")
    with pytest.raises(RowError, match="finite number"):
        rows.number(True, "x")
    with pytest.raises(RowError, match="reversed"):
        rows.span([3, 1], "'span'")
    with pytest.raises(RowError, match="before 0"):
        rows.span([-1, 1], "'span'")
    assert rows.spans([[1, 2], [3, 4.5]], "s")[1].end == 4.5
    assert rows.spans([1, 2, 0.9], "s")[0].to_list() == [1.0, 2.0]
    assert json.dumps(rows.obj({"a": 1})) == '{"a": 1}'
