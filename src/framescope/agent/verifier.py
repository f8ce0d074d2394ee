"""VideoMind's Verifier: zoom into each top candidate, mark its boundaries inside the visual
tokens, score Yes against No for all candidates in one batched forward pass, re-rank.

VideoMind (Liu et al., arXiv 2503.13444), as released:

- the grounder's top 5 candidates; each padded to at least 2 s around its centre, then widened by
  50 % of its length on each side and clamped to the video (:func:`zoom`); only that window is
  decoded, at fps 2, at most 64 frames, 36–64 × 28² pixels per frame;
- ``<|seg_start|>`` / ``<|seg_end|>`` are inserted *inside* the clip's run of visual tokens, before
  the temporal patch nearest to where the padded candidate starts / ends:
  ``round(fraction of the window × patches)`` (:func:`seg_patches`, :func:`insert_seg_tokens`);
  their rope positions follow the rule the verifier was trained with (the markers of
  :mod:`framescope.models.rope`);
- the prompt asks whether the marked segment covers the query; the score compares the next-token
  "Yes" against "No" at the end of the prompt; the 5 are re-ranked by it.

**Deviations from the release:**

- One batched forward pass over every candidate (right-padded rows, :func:`score_next_tokens`)
  instead of one forward per candidate; scores equal the one-at-a-time scores (tested, 1e-4).
- Score = ``sigmoid(logit_yes − logit_no)`` (log-softmax differences are logit differences). The
  release takes the sigmoid of the difference of the softmax *probabilities*, which confines
  every score to ``[sigmoid(−1), sigmoid(1)] = [0.27, 0.73]`` and compresses confident
  candidates together; ``score="prob"`` reproduces it.
- Ties keep the grounder's order (a stable sort; the release's ``argsort`` is not stable).
- The prompt carries the query the grounder localised (the planner's rephrasing when there is
  one); the release passed the original question, which the verifier never saw in training
  (its training prompts hold the grounding query).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from framescope.agent.common import pad_span
from framescope.errors import ConfigError
from framescope.models.backend import Backend, ClipBlock, Segment
from framescope.models.engine import score_next_tokens
from framescope.models.timestamp_head import Candidates
from framescope.settings import VERIFIER_SCORES
from framescope.types import Window

MIN_LEN = 2.0  # seconds a candidate is padded to before widening
WIDEN = 0.5  # of the padded candidate's length, added on each side

# The released text, word for word (typo included): the verifier adapter was trained on it.
VERIFIER_PROMPT = (
    "You are acting as the verifier now. You will be presented a text query describing a moment "
    "that potentialy happens in the given video. Your task is to identify whether the video "
    "segment between <|seg_start|> and <|seg_end|> perfectly covers the moment. If the described "
    "moment can be seen in the video, please focus on verifying whether the moment starts at "
    "<|seg_start|> and ends at <|seg_end|>. Respond with 'Yes' if you think the moment boundaries "
    "are correct, otherwise 'No'. If the described moment cannot be seen in the video, respond "
    "with 'No' directly. Now I give you the query: '{query}'. Please think carefully and respond "
    "with 'Yes' or 'No' directly."
)


def verifier_prompt(query: str) -> str:
    """The verifier's user text for ``query``."""
    return VERIFIER_PROMPT.replace("{query}", query)


@dataclass(frozen=True)
class Zoom:
    """Where a candidate is verified: ``candidate`` padded to ≥ 2 s (the marked segment) and the
    ``window`` decoded around it, both in absolute seconds inside the video."""

    candidate: Window
    window: Window


def zoom(candidate: Window, duration: float) -> Zoom:
    """Pad ``candidate`` to ``MIN_LEN``, widen by ``WIDEN`` of its length on each side, clamp."""
    inner = pad_span(candidate, duration, MIN_LEN)
    extra = inner.duration * WIDEN
    return Zoom(inner, pad_span(Window(inner.start - extra, inner.end + extra), duration))


def seg_patches(z: Zoom, patches: int) -> tuple[int, int]:
    """Temporal patches before which ``<|seg_start|>`` and ``<|seg_end|>`` go (0…patches): the
    candidate's start and end as fractions of the window, times the patch count, rounded
    (Python's half-to-even, as the release), clamped."""
    span = z.window.duration
    if span <= 0:
        return 0, 0

    def place(t: float) -> int:
        return min(max(0, round((t - z.window.start) / span * patches)), patches)

    return place(z.candidate.start), place(z.candidate.end)


def insert_seg_tokens(
    prompt: Segment,
    vision_start_id: int,
    per_patch: int,
    marks: tuple[int, int],
    seg_ids: tuple[int, int],
) -> Segment:
    """``prompt`` with ``seg_ids`` (start, end) inserted in its first visual token run before the
    temporal patches ``marks`` (``per_patch`` merged tokens each); vision inputs unchanged."""
    ids = list(prompt.token_ids)
    first = ids.index(vision_start_id) + 1  # first visual token
    ids.insert(first + marks[0] * per_patch, seg_ids[0])
    ids.insert(first + 1 + marks[1] * per_patch, seg_ids[1])  # one further: the start is in
    return Segment(ids, prompt.vision)


def mark_candidate(
    backend: Backend, prompt: Segment, block: ClipBlock, z: Zoom, seg_ids: tuple[int, int]
) -> Segment:
    """``prompt`` (holding ``block``, the clip of ``z.window``) with ``seg_ids`` inserted before
    the temporal patches where ``z.candidate`` starts and ends (:func:`seg_patches`,
    :func:`insert_seg_tokens`)."""
    t, h, w = block.segment.vision[0].grid_thw
    per_patch = h * w // backend.merge**2  # merged tokens per temporal patch
    return insert_seg_tokens(prompt, backend.vision_start_id, per_patch, seg_patches(z, t), seg_ids)


def combine(logprobs: torch.Tensor, score: str = "logit") -> list[float]:
    """Scores from ``(K, 2)`` log-probabilities of [Yes, No]: ``sigmoid(logit_yes − logit_no)``
    (``"logit"``), or the release's ``sigmoid(p_yes − p_no)`` (``"prob"``)."""
    if score not in VERIFIER_SCORES:
        raise ConfigError(f"verifier score must be one of {VERIFIER_SCORES}, got {score!r}")
    lp = logprobs.double()
    diff = lp[:, 0] - lp[:, 1] if score == "logit" else lp[:, 0].exp() - lp[:, 1].exp()
    return [float(x) for x in torch.sigmoid(diff)]


def score_candidates(
    backend: Backend, prompts: Sequence[Segment], yes_no: tuple[int, int], score: str = "logit"
) -> list[float]:
    """One batched forward pass over every marked prompt with the verifier adapter; one score
    each, in order."""
    assert backend.videomind is not None
    with backend.videomind.roles.use("verifier"):
        logprobs = score_next_tokens(backend, prompts, yes_no)
    return combine(logprobs, score)


def rerank(candidates: Candidates, scores: Sequence[float]) -> Candidates:
    """``candidates`` ordered by ``scores`` (best first, ties in their given order), with them."""
    order = sorted(range(len(scores)), key=lambda k: -scores[k])
    return Candidates([candidates.windows[k] for k in order], [scores[k] for k in order])
