"""``--compat videomind``: the tables VideoMind's evaluation prints (``videomind/eval/eval_auto.py``
at ``yeliudev/VideoMind`` 6721d25, nncore 0.4.5), shared by every benchmark it scores
(QVHighlights has its own script: :mod:`~framescope.eval.benchmarks.qvhighlights`).

Rules, as the script applies them to each sample of its prediction files:

* A sample enters the grounding tables when it has predicted windows (``pred``), the answer
  table when it has an answer text (``response``); samples without either are left out.
* IoU and IoP are nncore's ``temporal_iou`` / ``temporal_iof`` in **float32** (the script puts
  the windows in ``torch.Tensor``; computed here with NumPy float32, same operations), every
  predicted window against every GT window, non-finite values 0. ``R{k}@{t}``: the best value
  among the first ``k`` predictions ``>= t`` (t compared in float32); ``mIoU``/``mIoP``: the mean
  of the first prediction's best value. k = 1, 3, 5 and t = 0.3, 0.5, 0.7.
* CG-Bench mode: one IoU per sample over the kept windows — the first, plus every window whose
  confidence is ``> conf_thr`` when ``conf_thr > 0`` — as summed intersections over (summed
  window lengths + summed GT lengths − summed intersections), no merging; k = 1, t = 0.1 … 0.5;
  ``rec.@IoU`` is the mean of the ``R1@t``; no IoP table.
* Answers: ``check_ans`` (:func:`~framescope.text.videomind_choice`) against the GT letter, case
  insensitive; an unreadable answer is "Failed" and stays in the denominator (the script crashes
  on a reply that starts with a space: here that is Failed too). ``Acc (IoU >= 0.5)`` /
  ``Acc (IoP >= 0.5)``: right answer and a first window that reaches 0.5; CG-Bench's
  ``acc.@IoU``: right answer and ``R1@t``, averaged over t.
* Every table has a row per task (VideoMind's ``task`` of each sample: the benchmark's question
  type, duration, sub-category …) and ``all``; the ``all`` rows are the metrics, the tables are
  the breakdowns. Values in percent, unrounded (the script prints 2 decimals).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from framescope.eval.benchmarks.base import Scores, answer_text, pct
from framescope.eval.metrics import mean
from framescope.text import videomind_choice
from framescope.types import Prediction, Window

THRESHOLDS = (0.3, 0.5, 0.7)
CGBENCH_THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5)


@dataclass(frozen=True)
class Sample:
    """One sample as VideoMind's evaluation sees it. ``windows``: the ranked predictions
    (``None``: no grounding entry) with their confidences ``scores``; ``answer``: the reply
    (``None``: no answer entry); ``gold``: the GT letter."""

    tasks: tuple[str, ...]
    gts: Sequence[Window] = ()
    windows: Sequence[Window] | None = None
    scores: Sequence[float] | None = None
    answer: str | None = None
    gold: str = ""
    num_options: int = 0


def reply(pred: Prediction) -> str | None:
    """A record's answer entry: its reply as generated (the answer text when there is none), ""
    for a failed sample (an unreadable answer), ``None`` when it has neither (no entry)."""
    if pred.error is not None:
        return ""
    return answer_text(pred)


@dataclass
class _Table:
    columns: tuple[str, ...]
    rows: dict[str, list[list[float]]] = field(default_factory=dict)  # task → per-sample values

    def add(self, tasks: Sequence[str], values: list[float]) -> None:
        for task in (*tasks, "all"):
            self.rows.setdefault(task, []).append(values)

    def means(self) -> dict[str, dict[str, float]]:
        out = {}
        for task in [*sorted(t for t in self.rows if t != "all"), "all"]:
            if task in self.rows:
                cols = zip(*self.rows[task])
                row: dict[str, float] = {"#Samples": len(self.rows[task])}
                row.update({c: pct(mean(v)) for c, v in zip(self.columns, cols)})
                out[task] = row
        return out


def _f32(windows: Sequence[Window]) -> np.ndarray:
    return np.array([[w.start, w.end] for w in windows], dtype=np.float32).reshape(-1, 2)


def _intersections(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    s = np.maximum(pred[:, None, 0], gt[None, :, 0])
    e = np.minimum(pred[:, None, 1], gt[None, :, 1])
    return np.clip(e - s, np.float32(0), None)  # (P, G)


def _finite(x: np.ndarray) -> np.ndarray:
    return np.asarray(np.where(np.isfinite(x), x, np.float32(0)))


def iou_matrix(preds: Sequence[Window], gts: Sequence[Window]) -> np.ndarray:
    """nncore's ``temporal_iou`` in float32, non-finite → 0; (P, G)."""
    p, g = _f32(preds), _f32(gts)
    inter = _intersections(p, g)
    with np.errstate(divide="ignore", invalid="ignore"):
        union = (p[:, 1] - p[:, 0])[:, None] + (g[:, 1] - g[:, 0])[None, :] - inter
        return _finite(np.asarray(inter / union))


def iop_matrix(preds: Sequence[Window], gts: Sequence[Window]) -> np.ndarray:
    """nncore's ``temporal_iof`` (intersection over the prediction's length), float32; (P, G)."""
    p, g = _f32(preds), _f32(gts)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _finite(_intersections(p, g) / (p[:, 1] - p[:, 0])[:, None])


def cgbench_iou(
    preds: Sequence[Window], scores: Sequence[float] | None, gts: Sequence[Window], conf_thr: float
) -> np.ndarray:
    """VideoMind's CG-Bench IoU of the kept windows (see the module docstring); shape (1, 1)."""
    keep = [0]
    if conf_thr > 0 and scores is not None:
        conf = np.array(scores, dtype=np.float32)
        keep = sorted({0, *np.nonzero(conf > np.float32(conf_thr))[0].tolist()})
    p, g = _f32([preds[i] for i in keep]), _f32(gts)
    inter = _intersections(p, g).sum(dtype=np.float32)
    area = (p[:, 1] - p[:, 0]).sum(dtype=np.float32) + (g[:, 1] - g[:, 0]).sum(dtype=np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _finite(np.array([[inter / (area - inter)]], dtype=np.float32))


def _hits(values: np.ndarray, ks: Sequence[int], thresholds: Sequence[float]) -> list[float]:
    """``R{k}@{t}`` hits (1/0) of one sample's (P, G) matrix, then its first row's best value."""
    out = [float(values[:k].max() >= np.float32(t)) for k in ks for t in thresholds]
    return [*out, float(values[0].max())]


def tables(samples: Sequence[Sample], cgbench: bool = False, conf_thr: float = -1.0) -> Scores:
    """VideoMind's grounding and answer tables over ``samples`` (see the module docstring)."""
    ks, thr = ((1,), CGBENCH_THRESHOLDS) if cgbench else ((1, 3, 5), THRESHOLDS)
    r_cols = tuple(f"R{k}@{t}" for k in ks for t in thr)
    iou_t = _Table((*r_cols, "mIoU", *(("rec.@IoU",) if cgbench else ())))
    iop_t = _Table((*(f"{c} (IoP)" for c in r_cols), "mIoP"))
    qa_cols = (
        ("long-acc.", "acc.@IoU") if cgbench else ("Acc", "Acc (IoU >= 0.5)", "Acc (IoP >= 0.5)")
    )
    qa_t = _Table(qa_cols)
    failed: dict[str, int] = {}
    for s in samples:
        iou_r1 = iop_r1 = [0.0] * len(thr)
        if s.windows and s.gts:
            if cgbench:
                iou = cgbench_iou(s.windows, s.scores, s.gts, conf_thr)
            else:
                iou = iou_matrix(s.windows, s.gts)
                iop = _hits(iop_matrix(s.windows, s.gts), ks, thr)
                iop_t.add(s.tasks, iop)
                iop_r1 = iop[: len(thr)]
            hits = _hits(iou, ks, thr)
            iou_r1 = hits[: len(thr)]
            iou_t.add(s.tasks, [*hits, mean(iou_r1)] if cgbench else hits)
        if s.answer is None:
            continue
        read = videomind_choice(s.answer, s.num_options)
        ok = float(read.valid and read.letter == s.gold.upper())
        for task in (*s.tasks, "all"):
            failed[task] = failed.get(task, 0) + (not read.valid)
        half = thr.index(0.5)
        if cgbench:
            qa_t.add(s.tasks, [ok, mean(ok * h for h in iou_r1)])
        else:
            qa_t.add(s.tasks, [ok, ok * iou_r1[half], ok * iop_r1[half]])
    return _scores({"Grounding (IoU)": iou_t, "Grounding (IoP)": iop_t, "QA": qa_t}, failed)


def _scores(named: dict[str, _Table], failed: dict[str, int]) -> Scores:
    out = Scores({})
    for name, table in named.items():
        if not table.rows:
            continue
        rows = table.means()
        if name == "QA":
            for task, row in rows.items():
                row["Failed"] = failed.get(task, 0)
        out.breakdowns[name] = rows
        everything = dict(rows["all"])
        out.counts[f"{name}: samples"] = int(everything.pop("#Samples"))
        if name == "QA":
            out.counts["QA: failed"] = int(everything.pop("Failed"))
        out.metrics.update(everything)
    if not out.metrics:
        out.notes.append("no sample has a predicted window or an answer")
    return out
