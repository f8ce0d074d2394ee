"""Rewards of DynFrame's RL stage (span-density retrieval, "DynFrame"; SD-GRPO) as plain callables.

Every reward takes the rollouts' texts — what the policy sampled, nothing the runtime injected
(clips, rejection notes, prefills): :attr:`framescope.train.grpo.rollout.Rollout.text` — their
DM-RL records and, optionally, the retrieval requests in each rollout, and returns one float per
rollout in ``[0, 1]`` (TRL's calling convention). They are built on the evaluation code: IoU
from :mod:`framescope.eval.metrics`, spans from the total parser in
:mod:`framescope.text`, requests from the runtime's grammar.

=============  ======  =======================================================================
reward         weight  what it scores
=============  ======  =======================================================================
``format``     0.1     0.4 if the text starts with ``<think>`` and has ``</think>``; 0.4 if it has
                       ``<answer>`` and ``</answer>``; 0.2 if ``<span>``/``</span>`` and
                       ``<fps>``/``</fps>`` counts match each other and #``<span>`` = #``<fps>``
``accuracy``   0.6     multiple choice (answer one letter A–H): 1 if the first
                       ``<answer>…</answer>`` holds exactly that letter (case-insensitive);
                       grounding: clamp((IoU − a) / (b − a), 0, 1) of the first span in it, with
                       (a, b) by ground-truth length: < 5 s (0.6, 0.95), < 15 s (0.5, 0.9),
                       < 30 s (0.4, 0.85), else (0.3, 0.8); no answer block: 0
``fps``        0.3     max(0, 1 − |fps − annotated fps| / 5) of the first request; none: 0
``span_iou``   0 / 0.3 IoU of the first request's window with the annotated span; none: 0
=============  ======  =======================================================================

**Where the numbers come from.** The weights 0.1 / 0.6 / 0.3 and the format, accuracy and fps
rules are the released training script's (``DynFrame_grpo.sh``: ``grpo_format_weight=0.1``,
``grpo_accuracy_weight=0.6``, ``grpo_fps_weight=0.3``; its time-IoU reward has weight 0, i.e. is
off) and its ``rewards.py`` (format sub-scores 0.4/0.4/0.2, the four difficulty buckets with
edges ``< 5``, ``< 15``, ``< 30`` s, fps normaliser 5). ``span_iou`` is the paper's retrieval
reward term ("IoU + FPS match"); the paper gives no weight, so SD-GRPO uses 0.3, equal to fps
(the paper sums the two). The trajectory ablation baseline uses the same 0.3, so the pair differs
in the advantage alone; ``configs/dynframe_grpo_released.yaml`` keeps the release's 0.

**Deviations from the release**, all where the release reads text more narrowly than it means:

- the grounding answer is read with :func:`~framescope.text.parse_spans` (``1.5 - 3``,
  ``from 1.5 to 3 s``, ``[1.5, 3]``…) instead of only ``^s - e$``;
- a request is scored as a whole, read by the runtime's grammar: the release's fps reward reads
  the first ``<fps>x</fps>`` even when no readable ``<span>`` precedes it (a request the runtime
  would never fetch); here such a rollout scores 0 on fps and span IoU;
- IoU is :func:`~framescope.eval.metrics.temporal_iou` (equal to the release's on every pair;
  both give 0 to reversed or empty windows).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence

from framescope.data.dynframe import DMRLRecord
from framescope.eval.metrics import temporal_iou
from framescope.retrieval.grammar import FPS_CLOSE, InvalidRequest, parse_request
from framescope.text import parse_spans
from framescope.types import RetrievalRequest

Request = RetrievalRequest | InvalidRequest
Reward = Callable[..., list[float]]

# (ground truth shorter than, a, b): grounding accuracy = clamp((IoU - a) / (b - a)); the release
GROUNDING_BUCKETS: tuple[tuple[float, float, float], ...] = (
    (5.0, 0.6, 0.95),
    (15.0, 0.5, 0.9),
    (30.0, 0.4, 0.85),
    (math.inf, 0.3, 0.8),
)
FPS_SCALE = 5.0  # |Δfps| at which the fps reward reaches 0 (the release's max_fps)
THINK_SCORE, ANSWER_SCORE, PAIRED_SCORE = 0.4, 0.4, 0.2  # format sub-scores (the release)

RELEASED_WEIGHTS: dict[str, float] = {"format": 0.1, "accuracy": 0.6, "fps": 0.3, "span_iou": 0.0}
SD_GRPO_WEIGHTS: dict[str, float] = {"format": 0.1, "accuracy": 0.6, "fps": 0.3, "span_iou": 0.3}
ANSWER_REWARDS = ("format", "accuracy")  # SD-GRPO: credited to tokens after the retrieval
RETRIEVAL_REWARDS = ("span_iou", "fps")  # SD-GRPO: credited to tokens up to its </fps>

_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.S)


def requests_in(text: str) -> list[Request]:
    """Every request in a rollout's text, in order: the text up to each ``</fps>`` (since the
    previous one) read by the runtime's grammar."""
    found: list[Request] = []
    start = 0
    while (at := text.find(FPS_CLOSE, start)) >= 0:
        end = at + len(FPS_CLOSE)
        found.append(parse_request(text[start:end]))
        start = end
    return found


def _first_requests(
    completions: Sequence[str], requests: Sequence[Sequence[Request]] | None
) -> list[RetrievalRequest | None]:
    """The first request of each rollout when it is readable, else None."""
    lists = requests if requests is not None else [requests_in(c) for c in completions]
    if len(lists) != len(completions):
        raise ValueError(f"{len(lists)} request lists for {len(completions)} completions")
    return [r[0] if r and isinstance(r[0], RetrievalRequest) else None for r in lists]


def _check(completions: Sequence[str], records: Sequence[DMRLRecord]) -> None:
    if len(records) != len(completions):
        raise ValueError(f"{len(records)} records for {len(completions)} completions")


def format_reward(
    completions: Sequence[str],
    records: Sequence[DMRLRecord] | None = None,
    requests: Sequence[Sequence[Request]] | None = None,
) -> list[float]:
    """Released format score: think block first (0.4), answer block (0.4), paired tags (0.2)."""
    out = []
    for text in completions:
        score = THINK_SCORE if text.startswith("<think>") and "</think>" in text else 0.0
        if "<answer>" in text and "</answer>" in text:
            score += ANSWER_SCORE
        spans, fps = text.count("<span>"), text.count("<fps>")
        if spans == text.count("</span>") and fps == text.count("</fps>") and spans == fps:
            score += PAIRED_SCORE
        out.append(score)
    return out


def grounding_scale(iou: float, gt_duration: float) -> float:
    """The release's difficulty-aware grounding accuracy: clamp((IoU − a) / (b − a), 0, 1)."""
    _, a, b = next(bucket for bucket in GROUNDING_BUCKETS if gt_duration < bucket[0])
    return min(1.0, max(0.0, (iou - a) / (b - a)))


def accuracy_reward(
    completions: Sequence[str],
    records: Sequence[DMRLRecord],
    requests: Sequence[Sequence[Request]] | None = None,
) -> list[float]:
    """Option letter exact match, or difficulty-scaled IoU of the answered span."""
    _check(completions, records)
    out = []
    for text, rec in zip(completions, records):
        found = _ANSWER.search(text)
        if found is None:
            out.append(0.0)
        elif rec.is_choice:
            out.append(1.0 if found.group(1).strip().upper() == rec.answer.strip().upper() else 0.0)
        else:
            window = parse_spans(found.group(1)).window
            if window is None:
                out.append(0.0)
            else:
                iou = temporal_iou(window, rec.gt_span)
                out.append(grounding_scale(iou, rec.gt_span.duration))
    return out


def fps_reward(
    completions: Sequence[str],
    records: Sequence[DMRLRecord],
    requests: Sequence[Sequence[Request]] | None = None,
) -> list[float]:
    """Closeness of the first request's density to the annotated one: max(0, 1 − |Δ| / 5)."""
    _check(completions, records)
    firsts = _first_requests(completions, requests)
    return [
        max(0.0, 1.0 - abs(req.fps - rec.fps) / FPS_SCALE) if req is not None else 0.0
        for req, rec in zip(firsts, records)
    ]


def span_iou_reward(
    completions: Sequence[str],
    records: Sequence[DMRLRecord],
    requests: Sequence[Sequence[Request]] | None = None,
) -> list[float]:
    """IoU of the first request's window with the annotated evidence span."""
    _check(completions, records)
    firsts = _first_requests(completions, requests)
    return [
        temporal_iou(req.window, rec.gt_span) if req is not None else 0.0
        for req, rec in zip(firsts, records)
    ]


REWARDS: dict[str, Reward] = {
    "format": format_reward,
    "accuracy": accuracy_reward,
    "fps": fps_reward,
    "span_iou": span_iou_reward,
}


def score(
    names: Sequence[str],
    completions: Sequence[str],
    records: Sequence[DMRLRecord],
    requests: Sequence[Sequence[Request]] | None = None,
) -> dict[str, list[float]]:
    """Each named reward of every rollout (requests read once from the texts when not given)."""
    unknown = [n for n in names if n not in REWARDS]
    if unknown:
        raise ValueError(f"unknown reward(s) {unknown}; known: {', '.join(REWARDS)}")
    if requests is None:
        requests = [requests_in(c) for c in completions]
    return {n: REWARDS[n](completions, records, requests) for n in names}


def weighted_sum(table: Mapping[str, Sequence[float]], weights: Mapping[str, float]) -> list[float]:
    """``Σ_k weights[k] · table[k]`` per rollout, over the rewards named in ``weights``."""
    columns = [(weights[k], table[k]) for k in weights]
    n = len(columns[0][1]) if columns else 0
    return [sum(w * col[i] for w, col in columns) for i in range(n)]
