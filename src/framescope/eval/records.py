"""Prediction records on disk: one JSON object per line, appended and fsynced batch by batch,
read back tolerant of a writer that was killed mid-line, merged across ranks and runs.

A record is :meth:`framescope.types.Prediction.to_dict` of one sample — ``id``, ranked
``windows`` (+ ``scores``), ``answer``, raw ``response``, ``error`` for a failure — plus
``trace``, the runner's summary: method, duration, the letter framescope read, stop reason,
evidence windows fetched, rejected requests, token/frame usage, ``failure`` (the kind, for a
failure record) and ``seconds`` (the only timing field, :data:`TIMING_KEYS`).

Files in an output folder: ``predictions.rank{r}.jsonl`` (written by rank ``r`` only, appended
by every run that had that rank) and ``predictions.jsonl`` (the merge, written atomically by
rank 0 at the end). A killed writer leaves at most one partial last line; readers skip it and
the next writer of that file cuts it off before appending (:func:`repair_tail`).
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from framescope.errors import PredictionError
from framescope.fileio import atomic_write_text
from framescope.types import Prediction, Trace

MERGED = "predictions.jsonl"
RANK_FILE = re.compile(r"^predictions\.rank(\d+)\.jsonl$")
TIMING_KEYS = ("seconds",)  # inside "trace": differ between runs, nothing else does

# failure kinds (record["trace"]["failure"])
MISSING_VIDEO = "missing video"
METHOD_FAILED = "failed in the method"  # the method's trace carries an error (unreadable video …)
GENERATION_ERROR = "generation error"  # method.run raised on this sample alone

Record = dict[str, Any]


def rank_file(out: Path, rank: int) -> Path:
    return out / f"predictions.rank{rank}.jsonl"


def record_files(out: Path) -> list[Path]:
    """The merged file (if any), then every rank's file in rank order (any world size)."""
    ranks = sorted(
        (int(m.group(1)), p)
        for p in (out.iterdir() if out.is_dir() else ())
        if (m := RANK_FILE.match(p.name))
    )
    merged = [out / MERGED] if (out / MERGED).is_file() else []
    return merged + [p for _, p in ranks]


# ---------------------------------------------------------------------------- building


def summarize(trace: Trace, failure: str | None = None) -> dict[str, Any]:
    """The ``trace`` field of a record: what the method did, without the full text."""
    return {
        "method": trace.method,
        "duration": trace.duration,
        "letter": trace.answer.letter,
        "stop_reason": trace.stop_reason,
        "evidence": [
            {"window": e.window.to_list() if e.window else None, "fps": e.fps, "frames": e.frames}
            for e in trace.evidence
        ],
        "rejected": [s.reason for s in trace.steps if s.status == "rejected"],
        "usage": trace.usage.to_dict(),
        "failure": failure,
        "seconds": round(trace.seconds, 3),
    }


def _finite(pred: Prediction) -> Prediction:
    """Drop what JSON and the scorers cannot take: non-finite windows, scores that do not pair
    with the windows or are not finite (a grounder that failed silently writes NaN)."""
    kept = [w for w in pred.windows if math.isfinite(w.start) and math.isfinite(w.end)]
    scores = pred.scores
    if scores is not None and (
        len(kept) != len(pred.windows)
        or len(scores) != len(kept)
        or not all(math.isfinite(s) for s in scores)
    ):
        scores = None
    pred.windows, pred.scores = kept, scores
    return pred


def prediction_record(pred: Prediction, trace: Trace) -> Record:
    """A record for a sample the method ran (``pred.error`` set when its trace failed)."""
    pred = _finite(pred)
    pred.trace = summarize(trace, METHOD_FAILED if pred.error is not None else None)
    return pred.to_dict()


def failure_record(ident: str, method: str, kind: str, reason: str, seconds: float = 0.0) -> Record:
    """A record for a sample that produced no trace (missing video, generation error)."""
    summary = {"method": method, "failure": kind, "seconds": round(seconds, 3)}
    return Prediction(ident, error=reason, trace=summary).to_dict()


def failure_kind(record: Record) -> str | None:
    if record.get("error") is None:
        return None
    trace = record.get("trace") or {}
    return str(trace.get("failure") or METHOD_FAILED)


def without_timing(record: Record) -> Record:
    """The record minus its timing fields (two runs of the same samples agree on the rest)."""
    trace = {k: v for k, v in (record.get("trace") or {}).items() if k not in TIMING_KEYS}
    return {**record, "trace": trace}


def dumps(record: Record) -> str:
    return json.dumps(record, allow_nan=False) + "\n"


# ---------------------------------------------------------------------------- files


def repair_tail(path: Path) -> int:
    """Cut a partial last line (a writer killed mid-record) so appends start on a new line;
    returns the bytes removed."""
    if not path.is_file():
        return 0
    with open(path, "rb+") as f:
        data = f.read()
        if not data or data.endswith(b"\n"):
            return 0
        keep = data.rfind(b"\n") + 1
        f.truncate(keep)
        f.flush()
        os.fsync(f.fileno())
    return len(data) - keep


@contextmanager
def record_writer(path: Path) -> Iterator[Callable[[Iterable[Record]], None]]:
    """Open ``path`` for appending (a partial last line cut first); the yielded ``write``
    returns once its records are on disk (flush + fsync), so a killed run loses at most the
    batch in flight."""
    repair_tail(path)
    with open(path, "a", encoding="utf-8") as f:

        def write(records: Iterable[Record]) -> None:
            f.write("".join(dumps(r) for r in records))
            f.flush()
            os.fsync(f.fileno())

        yield write


def read_records(path: Path) -> list[Record]:
    """Every complete record of a file. A last line without its newline is a record still being
    written (or cut by a kill) and is skipped; any other unreadable line is an error naming
    ``file:line``."""
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = text.split("\n")
    records = []
    for lineno, line in enumerate(lines[:-1], start=1):  # lines[-1]: "" or an unfinished line
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise PredictionError(f"not a JSON record ({e.msg})", str(path), lineno) from None
        if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
            raise PredictionError("a record needs a string 'id'", str(path), lineno)
        records.append(obj)
    return records


def merge(files: Sequence[Path], ids: Sequence[str]) -> dict[str, Record]:
    """One record per id of ``ids`` that has any: a record of a sample that ran beats a failure
    record; among those that ran the first read wins (files in order, lines in order), among
    failures the last (a retry)."""
    wanted = set(ids)
    best: dict[str, Record] = {}
    for path in files:
        for rec in read_records(path):
            ident = rec["id"]
            if ident not in wanted:
                continue
            old = best.get(ident)
            if old is None or old.get("error") is not None:  # a record that ran is kept
                best[ident] = rec
    return best


def recorded_ids(files: Sequence[Path], retry_failed: bool = False) -> set[str]:
    """Ids that have a record (with ``retry_failed``: a record of a sample that ran)."""
    return {
        rec["id"]
        for path in files
        for rec in read_records(path)
        if not (retry_failed and rec.get("error") is not None)
    }


def write_merged(out: Path, records: Sequence[Record]) -> Path:
    """``predictions.jsonl``, atomically, in the given (benchmark) order."""
    return atomic_write_text(out / MERGED, "".join(dumps(r) for r in records))
