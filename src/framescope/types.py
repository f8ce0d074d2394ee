"""Plain data types shared by every stage. All times are absolute seconds from the start of the video."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Window:
    """A time span ``[start, end]`` in absolute seconds.

    A Window is a value: it may be reversed or empty (model output and metrics need to represent
    both); code that needs a valid span checks ``is_valid``.
    """

    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def is_valid(self) -> bool:
        """Finite and ``start < end``."""
        return math.isfinite(self.start) and math.isfinite(self.end) and self.start < self.end

    def intersection(self, other: Window) -> float:
        """Length of the overlap with ``other`` (0 when disjoint)."""
        return max(0.0, min(self.end, other.end) - max(self.start, other.start))

    def iou(self, other: Window) -> float:
        """Temporal intersection over union; 0 when either window is reversed or empty."""
        if not (self.duration > 0 and other.duration > 0):
            return 0.0
        inter = self.intersection(other)
        return inter / (self.duration + other.duration - inter)

    def clamp(self, lo: float, hi: float) -> Window:
        """The window cut to ``[lo, hi]`` (may become empty)."""
        return Window(min(max(self.start, lo), hi), min(max(self.end, lo), hi))

    def to_list(self) -> list[float]:
        return [self.start, self.end]

    def __str__(self) -> str:
        return f"{self.start:.2f}–{self.end:.2f} s"


@dataclass
class Clip:
    """Decoded frames and the true presentation time of each.

    ``frames`` is ``(N, H, W, 3)`` uint8 RGB as displayed (rotation applied); ``timestamps[i]`` is
    the presentation time of ``frames[i]`` in absolute seconds, read from the stream, never
    computed from a nominal rate. ``window`` is the span that was sampled after clamping to the
    video, ``notes`` says what was adjusted (clamping, frame caps, pixel budget).
    """

    frames: np.ndarray  # (N, H, W, 3) uint8
    timestamps: tuple[float, ...]
    source: str | None = None
    window: Window | None = None
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.frames.ndim != 4 or self.frames.shape[-1] != 3 or self.frames.dtype != np.uint8:
            raise ValueError(
                f"Clip frames must be (N, H, W, 3) uint8, got {self.frames.shape} {self.frames.dtype}"
            )
        if len(self.timestamps) != len(self.frames):
            raise ValueError(f"{len(self.frames)} frames but {len(self.timestamps)} timestamps")

    def __len__(self) -> int:
        return len(self.frames)
