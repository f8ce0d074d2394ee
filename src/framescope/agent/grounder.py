"""VideoMind's Grounder: the released prompt, the ``<|reg|>`` capture during generation, the
timestamp head over it, and the release's fallback windows.

VideoMind (Liu et al., arXiv 2503.13444). The grounder adapter reads the whole video (fps 1, at
most 150 frames, 36–64 × 28² pixels per frame) and the query, and is trained to answer
``The relevant moment happens in <|reg|>.``. Whenever a row's sequence gets ``<|reg|>``, the
timestamp decoder (:mod:`framescope.models.timestamp_head`) reads the pre-norm hidden state at the
position that predicts it (the query) and the row's video tokens from the same forward pass,
average-pooled per temporal patch (:func:`~framescope.models.head_features.pool_video_features`);
:func:`~framescope.models.timestamp_head.decode` turns its output into ranked moments in absolute
seconds (NMS 0.75, top 100, clamped to the video, reversed pairs swapped). No ``<|reg|>``: the
release's fallback, five sliding windows ``[i·d/6, (i+2)·d/6]`` when a verifier will re-rank them,
else the whole video.

The capture is an engine hook (:class:`RegCapture`) on the one token engine, run with
``Engine(pre_norm=True)`` so each row carries the pre-norm states of the chunk it was just fed.

**Deviations from the release:**

- The head runs for a ``<|reg|>`` sampled at any temperature, or injected by the runtime (a
  forced reply), in every row of a batch; the release ran it only when the *greedy* argmax was
  ``<|reg|>``, for a batch of one. A row's first ``<|reg|>`` counts (the release also used only
  its first prediction).
- Timestamps are not rounded to a dataset unit here (the release rounded to 1 ms or a
  benchmark's unit); scoring does what each benchmark's official script does.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.nn.utils.rnn import pad_sequence

from framescope.models.backend import Backend
from framescope.models.engine import Injection, Row
from framescope.models.head_features import pool_video_features
from framescope.models.timestamp_head import Candidates, TimestampHead, decode
from framescope.types import Window

FALLBACK_WINDOWS = 5

# The released text, word for word: the grounder adapter was trained on it.
GROUNDER_PROMPT = (
    "You are acting as the grounder now. Given a video and a text query, your goal is to "
    "temporally localize the video moment described by the query. If the query is directly "
    "describing a moment, simply localize it according to its content. Otherwise, if the moment "
    "is described as 'before/after a pivotal event', you need to determine the actual event it "
    "refers to. The localized moment should only cover the target event. Now I give you the "
    "query: '{query}'. Please think carefully and provide your response."
)
GROUNDER_REPLY = "The relevant moment happens in <|reg|>."  # what the adapter learned to write


def grounder_prompt(query: str) -> str:
    """The grounder's user text for ``query``."""
    return GROUNDER_PROMPT.replace("{query}", query)


def fallback_candidates(duration: float, verify: bool) -> Candidates:
    """The release's moments when no ``<|reg|>`` came: five overlapping windows of a third of the
    video for the verifier to choose from, else the whole video; all scored 0."""
    if not verify:
        return Candidates([Window(0.0, duration)], [0.0])
    n = FALLBACK_WINDOWS + 1
    windows = [Window(i * duration / n, (i + 2) * duration / n) for i in range(FALLBACK_WINDOWS)]
    return Candidates(windows, [0.0] * FALLBACK_WINDOWS)


class RegCapture:
    """Engine hook that keeps, per row, its first video pooled per temporal patch ``(T, H)`` (from
    the prompt's forward pass) and the query state ``(H,)`` at the position predicting the row's
    first ``<|reg|>`` after token ``starts[i]`` (sampled or injected). Needs
    ``Engine(pre_norm=True)``; queues nothing."""

    def __init__(self, backend: Backend, reg_id: int, starts: Sequence[int]) -> None:
        self.backend = backend
        self.reg_id = reg_id
        self.starts = list(starts)
        self.video: list[torch.Tensor | None] = [None] * len(starts)
        self.query: list[torch.Tensor | None] = [None] * len(starts)

    def __call__(self, index: int, row: Row) -> Injection | None:
        self.observe(index, row)
        return None

    def observe(self, index: int, row: Row) -> None:
        """Read what the row's last fed chunk holds; call once more after generation so that a
        ``<|reg|>`` sampled as the very last token (no hook call follows it) counts too."""
        if row.states is None:
            return
        end = row.cached  # row.states covers tokens[end - n : end]
        begin = end - len(row.states)
        if self.video[index] is None and begin == 0:
            grids = torch.tensor([v.grid_thw for _, v in row.vision])
            video, _ = pool_video_features(
                row.states[None],
                torch.tensor([row.tokens[:end]]),
                grids,
                self.backend.video_token_id,
                self.backend.merge,
            )
            self.video[index] = video[0]  # (T, H): one row, one video, no padding
        if self.query[index] is None:
            # a token at r is predicted by position r - 1: inside this chunk, or its last position
            for r in range(max(self.starts[index], begin + 1), min(len(row.tokens), end + 1)):
                if row.tokens[r] == self.reg_id:
                    self.query[index] = row.states[r - 1 - begin].clone()  # (H,)
                    break

    def moments(self, head: TimestampHead, durations: Sequence[float]) -> list[Candidates | None]:
        """Ranked moments in seconds for every row that wrote ``<|reg|>`` (one batched head pass),
        ``None`` for the others."""
        found = [
            (i, v, q)
            for i, (v, q) in enumerate(zip(self.video, self.query))
            if v is not None and q is not None
        ]
        out: list[Candidates | None] = [None] * len(self.starts)
        if not found:
            return out
        rows = [i for i, _, _ in found]
        video = pad_sequence([v for _, v, _ in found], batch_first=True)  # (B, T_max, H)
        lengths = torch.tensor([len(v) for _, v, _ in found], device=video.device)
        mask = torch.arange(video.shape[1], device=video.device) < lengths[:, None]  # (B, T_max)
        query = torch.stack([q for _, _, q in found])  # (B, H)
        with torch.no_grad():
            result = head(video, query, mask)
        for i, cands in zip(rows, decode(result, [durations[i] for i in rows])):
            out[i] = cands
        return out
