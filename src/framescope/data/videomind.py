"""VideoMind's role data (Chain-of-LoRA role agent, "VideoMind"): grounder, verifier, planner.

Files are JSON lines (or a JSON array) with the release's field names:

- **grounder** ``{video_path, duration, query, span}`` — ``span`` one ``[s, e]`` or a list of them,
  seconds; the role learns to answer ``The relevant moment happens in <|reg|>.`` and its timestamp
  head regresses the span(s).
- **verifier** ``{video_path, duration, query, span, pred}`` — ``pred`` is the grounder's own ranked
  candidates (``[s, e]`` or ``[s, e, score]``) on that query; :func:`verifier_records` turns the
  top 5 into one :class:`VerifierRecord` each, labelled ``Yes`` iff its IoU with a ground-truth
  span is at least 0.5 (the release: max over GT spans, non-finite IoU counts as 0).
- **planner** ``{video_path, duration, question, query, route}`` — route 1: rephrased query, ground,
  verify, answer; 2: the question itself as the query, ground, verify, answer; 3: rephrased query,
  ground, verify (no answer); 4: answer only. ``query`` is required for routes 1 and 3 and unused
  by 2 and 4. :meth:`PlannerRecord.plan` is the JSON list of calls the planner is trained to write.

Spans must satisfy ``0 <= start < end``; they are not clipped to ``duration`` here (real
annotations overshoot the video by a fraction of a second; the collator clamps). Bad rows are
reported with file and line (:mod:`framescope.data.rows`).

**Deviation:** the release formats the planner's reply with an f-string, so a query containing a
double quote gives invalid JSON; :meth:`PlannerRecord.response` escapes it (``json.dumps``, the
same separators otherwise).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from framescope.data import rows
from framescope.data.rows import BadRow, Loaded, RowError
from framescope.eval.metrics import max_iou
from framescope.settings import VERIFIER_TOP_K
from framescope.types import Window

VERIFIER_IOU = 0.5  # label Yes iff IoU >= this (the release)
ROUTES = (1, 2, 3, 4)


@dataclass(frozen=True)
class GrounderRecord:
    """A query and the moment(s) it describes."""

    video: Path
    query: str
    spans: tuple[Window, ...]
    duration: float | None = None

    @property
    def span(self) -> Window:
        return self.spans[0]


@dataclass(frozen=True)
class VerifierRecord:
    """One grounder candidate for a query and whether it is right (``label`` "Yes" / "No")."""

    video: Path
    query: str
    candidate: Window
    iou: float  # best IoU with the ground-truth spans
    label: str  # "Yes" iff iou >= 0.5
    rank: int  # 0-based position among the grounder's candidates
    duration: float | None = None

    @property
    def positive(self) -> bool:
        return self.label == "Yes"


@dataclass(frozen=True)
class PlannerRecord:
    """A question, the route the planner should take and, for routes 1 and 3, its rephrased query."""

    video: Path
    question: str
    route: int
    query: str | None = None
    duration: float | None = None

    def plan(self) -> list[dict[str, str]]:
        """The calls, in order, as the planner writes them."""
        grounder = {"type": "grounder", "value": self.question if self.route == 2 else self.query}
        return {
            1: [grounder, {"type": "verifier"}, {"type": "answerer"}],
            2: [grounder, {"type": "verifier"}, {"type": "answerer"}],
            3: [grounder, {"type": "verifier"}],
            4: [{"type": "answerer"}],
        }[self.route]  # type: ignore[return-value]

    def response(self) -> str:
        """The planner's target reply, e.g. ``[{"type": "grounder", "value": "…"}, …]``."""
        return json.dumps(self.plan(), ensure_ascii=False)


# ---------------------------------------------------------------------------- rows


def _video(row: dict[str, Any], root: Path | None) -> Path:
    return rows.resolve_path(rows.text(row, "video_path"), root)


def parse_grounder_row(value: Any, root: Path | None = None) -> GrounderRecord:
    row = rows.obj(value)
    if "span" not in row:
        raise RowError("missing 'span'")
    return GrounderRecord(
        video=_video(row, root),
        query=rows.text(row, "query"),
        spans=rows.spans(row["span"], "'span'"),
        duration=rows.optional_number(row, "duration"),
    )


def parse_planner_row(value: Any, root: Path | None = None) -> PlannerRecord:
    row = rows.obj(value)
    route = row.get("route")
    if route not in ROUTES or isinstance(route, bool):
        raise RowError(f"'route' must be one of 1, 2, 3, 4, got {route!r}")
    needs_query = route in (1, 3)
    query = rows.text(row, "query") if needs_query else row.get("query")
    if query is not None and not isinstance(query, str):
        raise RowError(f"'query' must be a string or null, got {type(query).__name__}")
    return PlannerRecord(
        video=_video(row, root),
        question=rows.text(row, "question"),
        route=int(route),
        query=query,
        duration=rows.optional_number(row, "duration"),
    )


def _verifier_rows(value: Any, root: Path | None, top_k: int) -> list[VerifierRecord]:
    row = rows.obj(value)
    truth = parse_grounder_row(value, root)
    preds = row.get("pred")
    if not isinstance(preds, list):
        raise RowError("'pred' must be a list of [start, end] candidates")
    # a candidate as the grounder wrote it: reversed or empty ones are kept (they score IoU 0)
    candidates = []
    for i, p in enumerate(preds[:top_k]):
        if not isinstance(p, (list, tuple)) or len(p) < 2:
            raise RowError(f"'pred'[{i}] must be [start, end], got {p!r}")
        candidates.append(
            Window(rows.number(p[0], f"'pred'[{i}]"), rows.number(p[1], f"'pred'[{i}]"))
        )
    return verifier_records([candidates], [truth], top_k=top_k)


def verifier_records(
    grounder_predictions: Sequence[Sequence[Window]],
    ground_truth: Sequence[GrounderRecord],
    top_k: int = VERIFIER_TOP_K,
) -> list[VerifierRecord]:
    """Verifier training data from a grounder's own ranked candidates.

    ``grounder_predictions[i]`` are the candidates (best first) the grounder gave for
    ``ground_truth[i]``; the first ``top_k`` of each become records, labelled ``Yes`` iff their
    best IoU with the ground-truth spans is >= 0.5 (IoU as the metrics define it: 0 for reversed
    or empty candidates). Raises ``ValueError`` when the two sequences differ in length.
    """
    if len(grounder_predictions) != len(ground_truth):
        raise ValueError(
            f"{len(grounder_predictions)} prediction lists for {len(ground_truth)} queries"
        )
    out = []
    for candidates, truth in zip(grounder_predictions, ground_truth):
        for rank, cand in enumerate(list(candidates)[:top_k]):
            iou = max_iou(cand, truth.spans)
            out.append(
                VerifierRecord(
                    video=truth.video,
                    query=truth.query,
                    candidate=cand,
                    iou=iou,
                    label="Yes" if iou >= VERIFIER_IOU else "No",
                    rank=rank,
                    duration=truth.duration,
                )
            )
    return out


# ---------------------------------------------------------------------------- readers


def read_grounder(
    path: str | os.PathLike[str],
    *,
    data_root: str | os.PathLike[str] | None = None,
    skip_bad_rows: bool = False,
) -> Loaded[GrounderRecord]:
    root = rows.data_root(data_root)
    return rows.load(path, lambda v: parse_grounder_row(v, root), skip_bad_rows)


def read_planner(
    path: str | os.PathLike[str],
    *,
    data_root: str | os.PathLike[str] | None = None,
    skip_bad_rows: bool = False,
) -> Loaded[PlannerRecord]:
    root = rows.data_root(data_root)
    return rows.load(path, lambda v: parse_planner_row(v, root), skip_bad_rows)


def iter_verifier(
    path: str | os.PathLike[str],
    *,
    data_root: str | os.PathLike[str] | None = None,
    skipped: list[BadRow] | None = None,
    top_k: int = VERIFIER_TOP_K,
) -> Iterator[VerifierRecord]:
    """Verifier records from a file of grounder predictions (one row per query, ``pred`` list)."""
    root = rows.data_root(data_root)
    for group in rows.read_rows(path, lambda v: _verifier_rows(v, root, top_k), skipped):
        yield from group


def read_verifier(
    path: str | os.PathLike[str],
    *,
    data_root: str | os.PathLike[str] | None = None,
    skip_bad_rows: bool = False,
    top_k: int = VERIFIER_TOP_K,
) -> Loaded[VerifierRecord]:
    root = rows.data_root(data_root)
    groups = rows.load(path, lambda v: _verifier_rows(v, root, top_k), skip_bad_rows)
    records = [r for group in groups.records for r in group]
    lines = [line for group, line in zip(groups.records, groups.lines) for _ in group]
    return Loaded(groups.path, records, groups.skipped, lines)
