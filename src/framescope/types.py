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


@dataclass
class Prediction:
    """One evaluated sample, as the evaluation runner writes it (one JSON object per line).

    ``windows`` are ranked moments in absolute seconds (best first; the list order is the rank the
    official scripts use), ``scores`` their optional confidences, ``answer`` the model's final
    answer text (a letter, or the content of ``<answer>…</answer>``; ``None`` when it gave none),
    ``response`` the raw generated text, ``saliency`` optional per-2-second-clip scores
    (QVHighlights highlight detection). ``error`` names why the sample failed (``None`` when it
    ran); a failed sample is scored as an unparseable answer/moment under each benchmark's rule.
    """

    id: str
    windows: list[Window] = field(default_factory=list)
    scores: list[float] | None = None
    answer: str | None = None
    response: str | None = None
    error: str | None = None
    saliency: list[float] | None = None

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"id": self.id, "windows": [w.to_list() for w in self.windows]}
        for key in ("scores", "answer", "response", "error", "saliency"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out

    @classmethod
    def from_dict(cls, obj: object) -> Prediction:
        """Parse one JSON record; raises ``ValueError`` naming the bad field."""
        if not isinstance(obj, dict):
            raise ValueError(f"a prediction must be a JSON object, got {type(obj).__name__}")
        unknown = set(obj) - {"id", "windows", "scores", "answer", "response", "error", "saliency"}
        if unknown:
            raise ValueError(f"unknown prediction field(s): {', '.join(sorted(unknown))}")
        ident = obj.get("id")
        if isinstance(ident, bool) or not isinstance(ident, (str, int)):
            raise ValueError("'id' must be a string (or an integer)")
        windows = []
        for w in obj.get("windows") or []:
            if (
                not isinstance(w, (list, tuple))
                or len(w) != 2
                or not all(_is_number(x) and math.isfinite(x) for x in w)
            ):
                raise ValueError(f"each window must be [start, end] in finite seconds, got {w!r}")
            windows.append(Window(float(w[0]), float(w[1])))
        scores = _numbers(obj.get("scores"), "scores")
        if scores is not None and len(scores) != len(windows):
            raise ValueError(f"{len(scores)} scores for {len(windows)} windows")
        for key in ("answer", "response", "error"):
            if obj.get(key) is not None and not isinstance(obj[key], str):
                raise ValueError(f"'{key}' must be a string or null")
        return cls(
            id=str(ident),
            windows=windows,
            scores=scores,
            answer=obj.get("answer"),
            response=obj.get("response"),
            error=obj.get("error"),
            saliency=_numbers(obj.get("saliency"), "saliency"),
        )


def _is_number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _numbers(value: object, name: str) -> list[float] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(_is_number(x) and math.isfinite(x) for x in value):
        raise ValueError(f"'{name}' must be a list of finite numbers")
    return [float(x) for x in value]
