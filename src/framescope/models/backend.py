"""The backend protocol: what the token engine, the retrieval loop and the agent need from a model.

A backend turns text and clips into token ids plus vision inputs (:class:`Segment`), runs one
forward pass over a padded chunk of new tokens with explicit 3-D rope positions and a KV cache,
and decodes ids back to text. Everything above it (engine, retrieval loop, agent) is written
against this protocol; :mod:`framescope.models.hf` implements it for Qwen2-VL, Qwen2.5-VL and
Qwen3-VL through transformers.

Vision blocks are built by framescope, not by the processor's text expansion, so a clip carries
its absolute timestamps and can be spliced anywhere in a turn: a :class:`ClipBlock` is the block's
token ids, the processor's pixel values and grid, and the :class:`~framescope.types.Evidence`
describing what the model was shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import torch

from framescope.models.rope import RopeSpec
from framescope.types import Clip, Evidence
from framescope.video.sampling import TEMPORAL_PATCH, PixelBudget

if TYPE_CHECKING:
    from framescope.models.videomind_ckpt import VideoMind


@dataclass(frozen=True)
class VisionInput:
    """One clip as the vision tower takes it.

    ``pixel_values`` is the processor's flat patch tensor ``(t·h·w, C·2·p·p)``; ``grid_thw`` the
    unmerged grid ``(t, h, w)``; ``seconds_per_patch`` the time one temporal patch spans
    (``2 / clip fps``; Qwen2.5-VL's ``second_per_grid_ts``, which its rope positions use).
    """

    pixel_values: torch.Tensor  # (t·h·w, C·2·p·p)
    grid_thw: tuple[int, int, int]
    seconds_per_patch: float


@dataclass
class Segment:
    """Token ids and the vision inputs of the blocks among them, in sequence order."""

    token_ids: list[int]
    vision: list[VisionInput] = field(default_factory=list)

    def __add__(self, other: Segment) -> Segment:
        return Segment(self.token_ids + other.token_ids, self.vision + other.vision)

    def __len__(self) -> int:
        return len(self.token_ids)


@dataclass(frozen=True)
class ClipBlock:
    """A clip ready to place in a sequence: its tokens + pixels, and what it shows."""

    segment: Segment
    evidence: Evidence


@dataclass
class ForwardOutput:
    """Logits of the last ``K`` positions ``(B, K, V)``; optionally the last decoder layer's output
    *before* the final norm ``(B, L, H)`` (VideoMind's timestamp head reads it)."""

    logits: torch.Tensor
    pre_norm: torch.Tensor | None = None


class Backend(Protocol):
    """A loaded model family: tokenizer, vision-block layout and one forward pass; and, when it was
    loaded from a VideoMind checkpoint, the agent's roles and timestamp head (``videomind``)."""

    family: str
    device: torch.device
    rope: RopeSpec
    pad_token_id: int
    stop_token_ids: tuple[int, ...]
    vision_start_id: int  # opens every vision block
    video_token_id: int  # the block's pad token, one per merged visual token
    merge: int  # spatial merge size: merge × merge patches make one visual token
    videomind: VideoMind | None  # roles, head and token ids of a VideoMind checkpoint, else None

    def pixel_budget(self) -> PixelBudget:
        """The per-frame pixel bounds the checkpoint's video processor uses; sample clips with it."""
        ...

    def encode_text(self, text: str) -> list[int]:
        """Token ids of plain text (no special tokens added)."""
        ...

    def decode(self, token_ids: Sequence[int], skip_special_tokens: bool = True) -> str: ...

    def encode_clip(self, clip: Clip) -> ClipBlock:
        """The family's timestamped vision block for ``clip`` (absolute times)."""
        ...

    def build_prompt(
        self, question: str, clips: Sequence[Clip], system: str | None = None
    ) -> tuple[Segment, list[ClipBlock]]:
        """The chat-template prompt (user turn: the clips, then ``question``; generation prompt
        opened), with each clip's block in place of the template's video placeholder."""
        ...

    def new_cache(self) -> Any:
        """An empty KV cache for :meth:`forward`."""
        ...

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        position_ids: torch.Tensor,
        vision: Sequence[VisionInput] = (),
        cache: Any = None,
        logits_to_keep: int | torch.Tensor = 1,
        pre_norm: bool = False,
    ) -> ForwardOutput:
        """One pass over new tokens ``(B, C)``; ``attention_mask`` covers cache + new ``(B, L)``;
        ``position_ids`` ``(3, B, C)``; ``vision`` the clips whose blocks are among the new tokens
        (batch rows in order). ``logits_to_keep``: the last N positions (0: all), or a tensor of
        the positions to keep."""
        ...


def clip_fps(clip: Clip) -> float:
    """A clip's own frame rate: frames per second of its mean frame spacing.

    This is the rate the model should assume between consecutive frames (Qwen2.5-VL's
    ``second_per_grid_ts = 2 / fps``), measured on the frames actually fetched rather than the
    rate requested (the sampler rounds counts to pairs and caps them) or, as the processors do,
    frames over the whole video. A clip whose frames all share one time (a window narrower than
    a frame interval) falls back to frames over its window, else 1 fps.
    """
    ts = clip.timestamps
    if len(ts) >= 2 and ts[-1] > ts[0]:
        return (len(ts) - 1) / (ts[-1] - ts[0])
    if clip.window is not None and clip.window.duration > 0:
        return len(ts) / clip.window.duration
    return 1.0


def patch_times(timestamps: Sequence[float]) -> list[float]:
    """Absolute time of each temporal patch: the mean of its frames' times (an odd last frame is
    repeated, as the processors pad it)."""
    ts = list(timestamps)
    if len(ts) % TEMPORAL_PATCH:
        ts += [ts[-1]] * (TEMPORAL_PATCH - len(ts) % TEMPORAL_PATCH)
    return [
        sum(ts[i : i + TEMPORAL_PATCH]) / TEMPORAL_PATCH for i in range(0, len(ts), TEMPORAL_PATCH)
    ]
