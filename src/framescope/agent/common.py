"""What every VideoMind role shares: spans as the release pads them, per-role pixel budgets, role
prompts on the backend's chat template, and reading a role's reply off an engine row.

VideoMind (*A Chain-of-LoRA Agent for Temporal-Grounded Video Reasoning*, Liu et al., arXiv
2503.13444). **Deviation kept small on purpose:** a role's clip is shown as the release showed it,
``<|vision_start|>…<|vision_end|>`` with no text before it; framescope's Qwen2-VL backend puts a
``<first - last seconds>`` header before any clip that does not start at 0 s (see
:mod:`framescope.models.hf`), which the role adapters never saw in training, so role prompts drop
it (:func:`role_prompt`).
"""

from __future__ import annotations

import re

from framescope.errors import ModelError
from framescope.models.backend import Backend, ClipBlock, Segment
from framescope.models.engine import Row
from framescope.types import Clip, Window
from framescope.video.sampling import PixelBudget

# the adapter each role runs with; the Answerer is the base model (adapters off)
ADAPTER = {"planner": "planner", "grounder": "grounder", "verifier": "verifier", "answerer": None}


def pad_span(span: Window, duration: float, min_len: float | None = None) -> Window:
    """The release's span rule: clamp to ``[0, duration]`` and order; a span shorter than
    ``min_len`` grows to ``min_len`` around its centre, the centre moved inside the video so the
    span fits (a video shorter than ``min_len`` gives the whole video); clamp again."""
    s, e = (min(duration, max(0.0, x)) for x in (span.start, span.end))
    s, e = min(s, e), max(s, e)
    if min_len is not None and e - s < min_len:
        half = min_len / 2
        centre = min(duration - half, max(half, (s + e) / 2))
        s, e = centre - half, centre + half
    return Window(min(duration, max(0.0, s)), min(duration, max(0.0, e)))


def clean_query(text: str) -> str:
    """The release's query clean-up: whitespace runs collapsed, outer spaces and periods off."""
    return re.sub(r"\s+", " ", text).strip().strip(".").strip()


def role_budget(backend: Backend, min_tokens: int, max_tokens: int) -> PixelBudget:
    """Per-frame pixel bounds as merged-token counts (the release: ``N × 28 × 28`` pixels)."""
    f = backend.pixel_budget().factor
    return PixelBudget(min_tokens * f * f, max_tokens * f * f, f)


def role_prompt(
    backend: Backend, text: str, clip: Clip, system: str | None = None
) -> tuple[Segment, ClipBlock]:
    """The chat-template prompt with ``clip`` then ``text``, the clip as a bare vision block (no
    time header; see the module docstring). Returns the prompt and the clip's block."""
    segment, (block,) = backend.build_prompt(text, [clip], system)
    header = block.segment.token_ids.index(backend.vision_start_id)
    if header:
        vs = segment.token_ids.index(backend.vision_start_id)
        ids = segment.token_ids[: vs - header] + segment.token_ids[vs:]
        segment = Segment(ids, segment.vision)
    return segment, block


def first_token(backend: Backend, word: str) -> int:
    """The id of ``word``'s first token (Qwen's vocabulary has "Yes" and "No" as single tokens)."""
    ids = backend.encode_text(word)
    if not ids:
        raise ModelError(f"the tokenizer encodes {word!r} as no tokens")
    return ids[0]


def reply_text(backend: Backend, row: Row, start: int) -> str:
    """Everything the row holds from token ``start`` on, special tokens kept (``<|reg|>`` is one),
    without the stop token that ended it."""
    tokens = row.tokens[start:]
    if row.stop_reason == "stop" and tokens and tokens[-1] in backend.stop_token_ids:
        tokens = tokens[:-1]
    return backend.decode(tokens, skip_special_tokens=False)
