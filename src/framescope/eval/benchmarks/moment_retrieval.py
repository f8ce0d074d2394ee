"""Moment retrieval: Charades-STA and ActivityNet-Captions.

Official semantics — the R@k / mIoU evaluation shared by 2D-TAN (``lib/core/eval.py``), VSLNet
(``util/runner_utils.py: calculate_iou``) and moment-detr (``standalone_eval/eval.py``):

* IoU in seconds with the hull union (:func:`~framescope.eval.metrics.temporal_iou`), the max over
  the query's GT windows; no clipping to the video; a reversed or zero-length window scores 0.
* ``R{k}@{t}``: share of queries whose best IoU among the first ``k`` predicted windows *in list
  order* is ``>= t`` (k = 1, 5; t = 0.3, 0.5, 0.7). ``mIoU``: mean IoU of the first window.
* Every query needs a prediction record; a failed sample or an unparseable response has no window
  and scores IoU 0 (in the denominator).

Files: Charades-STA ``charades_sta_test.txt`` lines ``<video_id> <start> <end>##<sentence>``;
sample ids ``<video_id>#<k>`` with ``k`` the 0-based index of the query line in the file.
ActivityNet-Captions ``val_1.json`` / ``val_2.json`` (``{video_id: {duration, timestamps,
sentences}}``); sample ids ``<video_id>#<j>`` with ``j`` the sentence index.

``--compat lmms-eval`` (v0.7.2 ``lmms_eval/tasks/charades_sta/utils.py``): the raw response,
reasoning blocks stripped, is read with its ``extract_time`` (``m:ss``/``h:mm:ss`` and ``–``
ranges; reversed pairs swapped, first pair only; recorded windows are
used when there is no response, the first one swapped if reversed), an unreadable answer scores 0,
queries are de-duplicated on (video, sentence, GT window) as its result dict does (the last one
counts), and only ``R1@0.3/0.5/0.7`` and ``mIoU`` are reported.

``--compat videomind``: VideoMind's IoU and IoP tables (:mod:`~framescope.eval.benchmarks.videomind`);
samples without any predicted window are left out of the denominators instead of scoring 0.

``framescope eval`` layout: Charades-STA ``DATA_ROOT/charades_sta_test.txt`` with the videos of the
Charades 480p release, ``Charades_v1_480/<video_id>.mp4`` (or ``videos/``); ActivityNet
``DATA_ROOT/val_2.json`` (or ``val_1.json``) with ``videos/<video_id>.mp4`` (``.mkv``/``.webm`` as
downloaded; the ids keep ActivityNet's ``v_`` prefix). Prompt: DynFrame's grounding prompt
(:data:`~framescope.eval.prompts.GROUNDING`) with the query — Charades-STA's without its final full
stop, as DynFrame's rows give it; ActivityNet's as annotated.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from framescope.errors import AnnotationError
from framescope.eval import prompts
from framescope.eval.benchmarks import videomind as vm
from framescope.eval.benchmarks.base import (
    Benchmark,
    Scores,
    Scoring,
    annotation_file,
    check_coverage,
    extra_note,
    pct,
    predicted_windows,
)
from framescope.eval.benchmarks.layout import (
    VIDEO_EXTENSIONS,
    EvalItem,
    Layout,
    Videos,
    question_items,
)
from framescope.eval.files import key_lines, parse_json, read_text
from framescope.eval.metrics import (
    IoU,
    best_iou_at_k,
    fraction_at_least,
    mean,
    temporal_iou,
)
from framescope.text import lmms_eval_spans, strip_reasoning
from framescope.types import Prediction, Window

THRESHOLDS = (0.3, 0.5, 0.7)


@dataclass(frozen=True)
class MomentSample:
    id: str
    video: str
    question: str  # the moment query
    windows: tuple[Window, ...]  # GT, seconds, as annotated
    duration: float | None = None
    options: tuple[str, ...] = ()


def _number(text: str, what: str, path: Path, line: int | None) -> float:
    try:
        value = float(text)
    except ValueError:
        raise AnnotationError(f"{what} is not a number: {text!r}", str(path), line) from None
    if not math.isfinite(value):
        raise AnnotationError(f"{what} is not finite: {text!r}", str(path), line)
    return value


def load_charades(path: Path) -> list[MomentSample]:
    """Charades-STA's ``<video_id> <start> <end>##<sentence>`` lines."""
    samples: list[MomentSample] = []
    for lineno, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        head, sep, sentence = line.partition("##")
        fields = head.split()
        if not sep or len(fields) != 3:
            raise AnnotationError(
                "expected '<video_id> <start> <end>##<sentence>'", str(path), lineno
            )
        start = _number(fields[1], "start", path, lineno)
        end = _number(fields[2], "end", path, lineno)
        samples.append(
            MomentSample(
                f"{fields[0]}#{len(samples)}", fields[0], sentence.strip(), (Window(start, end),)
            )
        )
    if not samples:
        raise AnnotationError("no queries in the file", str(path))
    return samples


def load_activitynet(path: Path) -> list[MomentSample]:
    """ActivityNet-Captions' ``{video_id: {duration, timestamps, sentences}}``."""
    text = read_text(path)
    data = parse_json(text, path)
    lines = key_lines(text)
    if not isinstance(data, dict):
        raise AnnotationError("expected a JSON object keyed by video id", str(path), 1)
    samples = []
    for vid, entry in data.items():
        line = lines.get(vid)
        if not isinstance(entry, dict) or not {"timestamps", "sentences"} <= set(entry):
            raise AnnotationError(f"{vid}: expected 'timestamps' and 'sentences'", str(path), line)
        stamps, sentences = entry["timestamps"], entry["sentences"]
        if (
            not isinstance(stamps, list)
            or not isinstance(sentences, list)
            or len(stamps) != len(sentences)
        ):
            raise AnnotationError(
                f"{vid}: 'timestamps' and 'sentences' must be lists of equal length",
                str(path),
                line,
            )
        duration = entry.get("duration")
        for j, (stamp, sentence) in enumerate(zip(stamps, sentences)):
            if not isinstance(stamp, list) or len(stamp) != 2:
                raise AnnotationError(f"{vid}: timestamp {j} is not [start, end]", str(path), line)
            start = _number(str(stamp[0]), f"{vid} timestamp {j} start", path, line)
            end = _number(str(stamp[1]), f"{vid} timestamp {j} end", path, line)
            samples.append(
                MomentSample(
                    f"{vid}#{j}",
                    vid,
                    str(sentence).strip(),
                    (Window(start, end),),
                    float(duration) if isinstance(duration, (int, float)) else None,
                )
            )
    if not samples:
        raise AnnotationError("no queries in the file", str(path))
    return samples


def score_moments(
    samples: Sequence[MomentSample], preds: Mapping[str, Prediction], how: Scoring
) -> Scores:
    """Metrics, counts and notes for ranked-window predictions (see the module docstring)."""
    if how.compat == "lmms-eval":
        return _score_lmms_eval(samples, preds)
    if how.compat == "videomind":
        return _score_videomind(samples, preds)
    notes = check_coverage(
        (s.id for s in samples), preds, "every query needs a record (a failed one counts as IoU 0)"
    )
    rows = [(predicted_windows(preds[s.id]), s.windows) for s in samples]
    empty = sum(not windows for windows, _ in rows)
    metrics = _recall(rows, (1, 5), temporal_iou)
    return Scores(metrics, {}, {"queries": len(samples), "no_window": empty}, notes)


def _recall(
    rows: Sequence[tuple[Sequence[Window], Sequence[Window]]], ks: Sequence[int], iou: IoU
) -> dict[str, float]:
    """``R{k}@{t}`` for each ``k`` in ``ks`` over (predicted, GT windows) rows, then ``mIoU``
    (the first window's)."""
    best = {k: [best_iou_at_k(windows, gts, k, iou) for windows, gts in rows] for k in ks}
    metrics = {f"R{k}@{t}": pct(fraction_at_least(best[k], t)) for k in ks for t in THRESHOLDS}
    metrics["mIoU"] = pct(mean(best[1]))
    return metrics


def _lmms_eval_window(pred: Prediction) -> Window | None:
    if pred.error is not None:
        return None
    if pred.response is not None:
        return lmms_eval_spans(strip_reasoning(pred.response)).window
    if pred.windows:
        w = pred.windows[0]
        return w if w.end > w.start else Window(w.end, w.start)
    return None


def _score_lmms_eval(samples: Sequence[MomentSample], preds: Mapping[str, Prediction]) -> Scores:
    notes = check_coverage((s.id for s in samples), preds, "lmms-eval scores every query")
    by_key: dict[tuple[str, str, tuple[Window, ...]], float] = {}
    empty = 0
    for s in samples:
        window = _lmms_eval_window(preds[s.id])
        empty += window is None
        by_key[(s.video, s.question, s.windows)] = (
            temporal_iou(window, s.windows[0]) if window else 0.0
        )
    ious = list(by_key.values())
    metrics = {f"R1@{t}": pct(fraction_at_least(ious, t)) for t in THRESHOLDS}
    metrics["mIoU"] = pct(mean(ious))
    if len(ious) < len(samples):
        notes.append(f"{len(samples) - len(ious)} duplicate queries merged, as lmms-eval does")
    return Scores(metrics, {}, {"queries": len(ious), "no_window": empty}, notes)


def _score_videomind(samples: Sequence[MomentSample], preds: Mapping[str, Prediction]) -> Scores:
    rows = [(s, predicted_windows(preds.get(s.id))) for s in samples]
    scores = vm.tables([vm.Sample(("unknown",), s.windows, w) for s, w in rows if w])
    scores.notes = [*extra_note((s.id for s in samples), preds), *scores.notes]
    left_out = sum(not w for _, w in rows)
    if left_out:
        scores.notes.append(f"{left_out} queries without a predicted window left out")
    return scores


def _charades_prompt(query: str) -> str:
    return prompts.grounding(query.rstrip("."))  # as DynFrame's rows give it: no full stop


def _charades_items(data: list[MomentSample], videos: Videos) -> list[EvalItem]:
    return question_items(data, _charades_prompt, lambda s: videos.file(s.video))


def _activitynet_items(data: list[MomentSample], videos: Videos) -> list[EvalItem]:
    return question_items(data, prompts.grounding, lambda s: videos.file(s.video, VIDEO_EXTENSIONS))


PREDICTION_HELP = "framescope prediction JSON lines (ranked 'windows' or a 'response')"
CHARADES_HELP = "the Charades-STA query file, lines '<video_id> <start> <end>##<sentence>'"
ACTIVITYNET_HELP = (
    "an ActivityNet-Captions caption file, {video_id: {duration, timestamps, sentences}}"
)

CHARADES_STA = Benchmark(
    name="charades_sta",
    title="Charades-STA",
    annotation_help=CHARADES_HELP,
    prediction_help=PREDICTION_HELP,
    layout=Layout(
        ("",),
        ("Charades_v1_480", "videos"),
        "charades_sta_test.txt + Charades_v1_480/<video_id>.mp4 (or videos/)",
    ),
    load=annotation_file(load_charades, ("charades_sta_test.txt",), "charades_sta", CHARADES_HELP),
    rules=score_moments,
    items=_charades_items,
    compat=("lmms-eval", "videomind"),
)

ACTIVITYNET = Benchmark(
    name="activitynet",
    title="ActivityNet-Captions (moment retrieval)",
    annotation_help=ACTIVITYNET_HELP,
    prediction_help=PREDICTION_HELP,
    layout=Layout(
        ("",), ("videos",), "val_2.json (or val_1.json) + videos/<video_id>.mp4 (.mkv, .webm)"
    ),
    load=annotation_file(
        load_activitynet, ("val_2.json", "val_1.json"), "activitynet", ACTIVITYNET_HELP
    ),
    rules=score_moments,
    items=_activitynet_items,
    compat=("lmms-eval", "videomind"),
)
