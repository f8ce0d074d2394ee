"""The evaluation report: tables under the official names, failures, deterministic timeline
plots (real PNGs) and one self-contained HTML page."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

from PIL import Image

from framescope.eval import records as rec
from framescope.eval.benchmarks import Result
from framescope.eval.benchmarks.layout import EvalItem
from framescope.eval.report import pick, timeline, write_report
from framescope.types import Sample, Window

RESULT = Result(
    "videomme",
    "Video-MME",
    {"Overall": 50.0, "short": 62.5},
    {"Task Categories": {"Counting Problem": 25.0}, "short": {"Task Categories": {"OCR": 100.0}}},
    {"questions": 20, "answered": 18},
    ["2 unreadable answers left out"],
)
CONFIG = {"method": "dynframe", "model": "/ckpt/tiny"}


def items_and_records(n: int = 20) -> tuple[list[EvalItem], list[dict]]:
    items, records = [], []
    for k in range(n):
        truth = (Window(k, k + 2.0),) if k % 2 == 0 else ()
        sample = Sample(f"q{k}", f"v{k}.mp4", "Q", ("a", "b"), prompt="Q?")
        items.append(EvalItem(sample, truth, 30.0))
        record = {"id": f"q{k}", "windows": [[k + 1.0, k + 3.0], [0.0, 1.0]], "answer": "A"}
        record["trace"] = {"evidence": [{"window": [k, k + 4.0], "fps": 2.0, "frames": 8}]}
        records.append(record)
    records[3] = rec.failure_record("q3", "dynframe", rec.MISSING_VIDEO, "video not found: v3.mp4")
    records[5] = rec.failure_record("q5", "dynframe", rec.GENERATION_ERROR, "RuntimeError: x")
    return items, records


def test_report_files_tables_and_failures(tmp_path: Path) -> None:
    items, records = items_and_records()
    html_path = write_report(tmp_path, RESULT, records, items, CONFIG, plots=4)
    md = (tmp_path / "report.md").read_text()
    assert md.startswith("# Video-MME — dynframe")
    assert "| Overall | 50.00 |" in md and "| short | 62.50 |" in md
    assert "## Task Categories\n\n| group | value |\n|---|---:|\n| Counting Problem | 25.00 |" in md
    assert "## short\n\n| group | value |\n|---|---:|\n| Task Categories / OCR | 100.00 |" in md
    assert "| answered | 18 |" in md and "- 2 unreadable answers left out" in md
    assert "| missing video | 1 | video not found: v3.mp4 |" in md
    assert "| generation error | 1 | RuntimeError: x |" in md
    plots = sorted((tmp_path / "plots").iterdir())
    assert len(plots) == 4 and all(f"(plots/{p.name})" in md for p in plots)
    for p in plots:
        with Image.open(p) as im:
            assert im.format == "PNG" and im.size == (800, 190)

    page = html_path.read_text()
    assert html_path.name == "report.html" and "<td>Overall</td><td class=n>50.00</td>" in page
    # self-contained: no remote or absolute resources, plots inline, files linked relatively
    sources = re.findall(r'src="([^"]+)"', page)
    assert len(sources) == 4 and all(s.startswith("data:image/png;base64,") for s in sources)
    assert "http" not in page and "<script" not in page
    links = set(re.findall(r'href="([^"]+)"', page))
    assert {"predictions.jsonl", "metrics.json", "config.yaml", "report.md"} <= links
    assert all(not link.startswith("/") for link in links)
    png = base64.b64decode(sources[0].split(",", 1)[1])
    assert png == plots[0].read_bytes()
    with Image.open(io.BytesIO(png)) as im:
        assert im.format == "PNG"


def test_plotted_items_are_spread_evenly_and_fixed() -> None:
    items, records = items_and_records()
    by_id = {r["id"]: r for r in records}
    chosen = [t.id for t in pick(items, by_id, 4)]
    assert chosen == ["q0", "q6", "q12", "q18"]  # items with ground truth, evenly spaced
    assert [t.id for t in pick(items, by_id, 4)] == chosen
    assert len(pick(items, by_id, 50)) == 10 and pick(items, by_id, 0) == []
    no_truth = [EvalItem(it.sample) for it in items]  # MCQ: fetched windows
    assert len(pick(no_truth, by_id, 3)) == 3


def test_timeline_reads_windows_evidence_and_iou() -> None:
    items, records = items_and_records()
    t = timeline(items[2], records[2])
    assert t.truth == (Window(2, 4),) and t.predicted[0] == Window(3, 5)
    assert t.fetched == ((Window(2, 6), 2.0),) and t.duration == 30.0
    assert t.iou == 1 / 3
    failed = timeline(items[3], records[3])
    assert failed.error == "video not found: v3.mp4" and failed.iou is None
