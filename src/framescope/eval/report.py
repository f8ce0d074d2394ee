"""The evaluation report: ``report.md`` (metric, count and per-category tables, failures, notes),
``plots/*.png`` (timelines of predicted, fetched and ground-truth windows for a deterministic
sample of items) and ``report.html``, one self-contained page (styles inline, plots embedded as
data URIs; it opens from the folder with no server and links the files beside it). Every file is
written atomically; plots use matplotlib's Agg canvas directly (no pyplot state, no display).
"""

from __future__ import annotations

import base64
import html
import io
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from framescope.eval.benchmarks import Result
from framescope.eval.benchmarks.layout import EvalItem
from framescope.eval.metrics import max_iou
from framescope.eval.score import _flatten, _fmt
from framescope.fileio import atomic_write_bytes, atomic_write_text
from framescope.types import Window

Record = dict[str, Any]
LINKED = ("predictions.jsonl", "metrics.json", "config.yaml", "report.md")


@dataclass(frozen=True)
class Timeline:
    """What one plot shows: ground truth, ranked predictions, fetched windows (with density)."""

    id: str
    duration: float
    truth: tuple[Window, ...]
    predicted: tuple[Window, ...]
    fetched: tuple[tuple[Window, float], ...]
    error: str | None = None

    @property
    def iou(self) -> float | None:
        """IoU of the first prediction with the best GT window (None without both)."""
        if not self.truth or not self.predicted:
            return None
        return max_iou(self.predicted[0], self.truth)


def timeline(item: EvalItem, record: Record) -> Timeline:
    trace = record.get("trace") or {}
    predicted = tuple(Window(float(s), float(e)) for s, e in record.get("windows") or ())
    fetched = tuple(
        (Window(*map(float, ev["window"])), float(ev["fps"]))
        for ev in trace.get("evidence") or ()
        if ev.get("window")
    )
    ends = [w.end for w in (*item.windows, *predicted, *(w for w, _ in fetched))]
    duration = item.duration or trace.get("duration") or max(ends, default=1.0)
    return Timeline(item.id, float(duration), item.windows, predicted, fetched, record.get("error"))


def pick(items: Sequence[EvalItem], records: Mapping[str, Record], count: int) -> list[Timeline]:
    """Up to ``count`` timelines spread evenly over the items that have ground-truth windows
    (else over those with predicted or fetched windows) — the same items every run."""
    lines = [timeline(it, records[it.id]) for it in items if it.id in records]
    shown = [t for t in lines if t.truth] or [t for t in lines if t.predicted or t.fetched]
    if count <= 0 or not shown:
        return []
    if len(shown) <= count:
        return shown
    step = (len(shown) - 1) / (count - 1) if count > 1 else 0
    return [shown[round(k * step)] for k in range(count)]


def plot(t: Timeline) -> bytes:
    """A PNG: one row each for the ground truth, the predictions (rank 1 dark) and the fetched
    windows (labelled with their density), on the video's time axis."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 1.9), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    rows = [("truth", t.truth, "#2e7d32"), ("predicted", t.predicted, "#1565c0")]
    for y, (_, windows, colour) in enumerate(rows):
        for rank, w in enumerate(windows):
            alpha = 1.0 if rank == 0 or y == 0 else 0.35
            ax.barh(y, max(w.duration, 0.0), left=w.start, height=0.6, color=colour, alpha=alpha)
    for w, fps in t.fetched:
        ax.barh(2, w.duration, left=w.start, height=0.6, color="#ef6c00", alpha=0.6)
        ax.text(w.start, 2.38, f"{fps:g} fps", fontsize=7, va="bottom")
    ax.set_yticks([0, 1, 2], ["truth", "predicted", "fetched"])
    ax.set_ylim(-0.5, 2.9)
    ax.set_xlim(0, max(t.duration, 1e-3))
    ax.set_xlabel("seconds")
    iou = f" — IoU {t.iou:.2f}" if t.iou is not None else ""
    failed = " — failed" if t.error else ""
    ax.set_title(f"{t.id}{iou}{failed}", fontsize=9, loc="left")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _table(rows: Sequence[tuple[str, Any]], head: tuple[str, str]) -> list[str]:
    lines = [f"| {head[0]} | {head[1]} |", "|---|---:|"]
    lines += [f"| {k} | {_fmt(v)} |" for k, v in rows]
    return lines


def _flat(block: Any) -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    _flatten("", block, rows)
    return [(k.replace("/", " / "), v) for k, v in rows]


def failure_rows(records: Sequence[Record]) -> list[tuple[str, int, str]]:
    """(kind, count, most common reason) per failure kind."""
    by_kind: dict[str, Counter[str]] = {}
    for r in records:
        if r.get("error") is not None:
            kind = str((r.get("trace") or {}).get("failure") or "failed")
            by_kind.setdefault(kind, Counter())[str(r["error"])] += 1
    return [(kind, sum(c.values()), c.most_common(1)[0][0]) for kind, c in sorted(by_kind.items())]


def _slug(ident: str, k: int) -> str:
    return f"{k:02d}_" + re.sub(r"[^A-Za-z0-9_.-]+", "_", ident)[:60] + ".png"


def markdown(
    result: Result,
    records: Sequence[Record],
    config: Mapping[str, Any],
    plots: Sequence[tuple[str, Timeline]],
) -> str:
    """``report.md``: every table of the result, failures, notes and the plot files."""
    title = f"{result.title} — {config.get('method')}"
    lines = [f"# {title}", ""]
    lines.append(f"model `{config.get('model')}`, {len(records)} samples")
    lines += ["", "## Metrics", "", *_table(list(result.metrics.items()), ("metric", "value"))]
    if result.counts:
        lines += ["", "## Counts", "", *_table(list(result.counts.items()), ("count", "value"))]
    for name, block in result.breakdowns.items():
        lines += ["", f"## {name}", "", *_table(_flat(block), ("group", "value"))]
    failures = failure_rows(records)
    lines += ["", "## Failures", ""]
    if failures:
        lines += ["| kind | samples | most common reason |", "|---|---:|---|"]
        lines += [f"| {k} | {n} | {r.replace('|', '/')} |" for k, n, r in failures]
    else:
        lines.append("none")
    if result.notes:
        lines += ["", "## Notes", "", *(f"- {n}" for n in result.notes)]
    if plots:
        lines += ["", "## Timelines", ""]
        lines += [f"- [{t.id}](plots/{name})" for name, t in plots]
    return "\n".join(lines) + "\n"


def _html_table(rows: Sequence[tuple[str, Any]], head: tuple[str, str]) -> str:
    body = "".join(
        f"<tr><td>{html.escape(str(k))}</td><td class=n>{html.escape(_fmt(v))}</td></tr>"
        for k, v in rows
    )
    return f"<table><tr><th>{head[0]}</th><th>{head[1]}</th></tr>{body}</table>"


STYLE = (
    "body{font-family:sans-serif;max-width:960px;margin:2em auto;color:#222}"
    "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 8px}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}img{max-width:100%}"
    "details{margin:.3em 0}"
)


def page(
    result: Result,
    records: Sequence[Record],
    config: Mapping[str, Any],
    plots: Sequence[tuple[str, Timeline, bytes]],
) -> str:
    """``report.html``: the same content as ``report.md``, plots embedded."""
    esc = html.escape
    parts = [
        "<!doctype html><html><head><meta charset=utf-8>",
        f"<title>{esc(result.title)} — {esc(str(config.get('method')))}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{esc(result.title)} — {esc(str(config.get('method')))}</h1>",
        f"<p>model <code>{esc(str(config.get('model')))}</code>, {len(records)} samples. Files: ",
        ", ".join(f'<a href="{name}">{name}</a>' for name in LINKED) + "</p>",
        "<h2>Metrics</h2>",
        _html_table(list(result.metrics.items()), ("metric", "value")),
    ]
    if result.counts:
        parts += ["<h2>Counts</h2>", _html_table(list(result.counts.items()), ("count", "value"))]
    for name, block in result.breakdowns.items():
        parts += [f"<h2>{esc(name)}</h2>", _html_table(_flat(block), ("group", "value"))]
    parts.append("<h2>Failures</h2>")
    failures = failure_rows(records)
    if failures:
        rows = "".join(
            f"<tr><td>{esc(k)}</td><td class=n>{n}</td><td>{esc(r)}</td></tr>"
            for k, n, r in failures
        )
        parts.append(f"<table><tr><th>kind</th><th>samples</th><th>reason</th></tr>{rows}</table>")
    else:
        parts.append("<p>none</p>")
    if result.notes:
        parts += ["<h2>Notes</h2><ul>", *(f"<li>{esc(n)}</li>" for n in result.notes), "</ul>"]
    if plots:
        parts.append("<h2>Timelines</h2>")
        for name, t, png in plots:
            data = base64.b64encode(png).decode("ascii")
            parts.append(
                f'<p><a href="plots/{esc(name)}"><img alt="{esc(t.id)}" '
                f'src="data:image/png;base64,{data}"></a></p>'
            )
    settings = "".join(
        f"<tr><td>{esc(k)}</td><td>{esc(str(v))}</td></tr>" for k, v in config.items()
    )
    parts.append(f"<details><summary>run settings</summary><table>{settings}</table></details>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_report(
    out: Path,
    result: Result,
    records: Sequence[Record],
    items: Sequence[EvalItem],
    config: Mapping[str, Any],
    plots: int = 12,
) -> Path:
    """Write ``report.md``, ``plots/`` and ``report.html`` into ``out`` (``records``: the merged
    predictions, ``items``: the samples run); returns the HTML path."""
    by_id = {r["id"]: r for r in records}
    drawn = []
    for k, t in enumerate(pick(items, by_id, plots)):
        name = _slug(t.id, k)
        png = plot(t)
        atomic_write_bytes(out / "plots" / name, png)
        drawn.append((name, t, png))
    shown = [(name, t) for name, t, _ in drawn]
    atomic_write_text(out / "report.md", markdown(result, records, config, shown))
    return atomic_write_text(out / "report.html", page(result, records, config, drawn))
