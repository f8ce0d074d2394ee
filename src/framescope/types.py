"""Plain data types shared by every stage. All times are absolute seconds from the start of the video."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

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
    ``trace`` is the runner's summary of how the record was made (method, evidence windows,
    usage, timing, failure kind); scoring ignores it.
    """

    id: str
    windows: list[Window] = field(default_factory=list)
    scores: list[float] | None = None
    answer: str | None = None
    response: str | None = None
    error: str | None = None
    saliency: list[float] | None = None
    trace: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"id": self.id, "windows": [w.to_list() for w in self.windows]}
        for key in ("scores", "answer", "response", "error", "saliency", "trace"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out

    @classmethod
    def from_dict(cls, obj: object) -> Prediction:
        """Parse one JSON record; raises ``ValueError`` naming the bad field."""
        if not isinstance(obj, dict):
            raise ValueError(f"a prediction must be a JSON object, got {type(obj).__name__}")
        known = {"id", "windows", "scores", "answer", "response", "error", "saliency", "trace"}
        unknown = set(obj) - known
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
        if obj.get("trace") is not None and not isinstance(obj["trace"], dict):
            raise ValueError("'trace' must be an object or null")
        return cls(
            id=str(ident),
            windows=windows,
            scores=scores,
            answer=obj.get("answer"),
            response=obj.get("response"),
            error=obj.get("error"),
            saliency=_numbers(obj.get("saliency"), "saliency"),
            trace=obj.get("trace"),
        )


def _is_number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _numbers(value: object, name: str) -> list[float] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(_is_number(x) and math.isfinite(x) for x in value):
        raise ValueError(f"'{name}' must be a list of finite numbers")
    return [float(x) for x in value]


# ---------------------------------------------------------------------------- inference traces


def _window_or_none(value: object) -> Window | None:
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(f"a window must be [start, end], got {value!r}")
    return Window(float(value[0]), float(value[1]))


@dataclass(frozen=True)
class RetrievalRequest:
    """A span-density request read from model text: fetch ``window`` at ``fps`` frames per second.

    ``text`` is the request as the model wrote it (``<span>…</span><fps>…</fps>``).
    """

    window: Window
    fps: float
    text: str = ""

    def to_dict(self) -> dict[str, object]:
        return {"window": self.window.to_list(), "fps": self.fps, "text": self.text}

    @classmethod
    def from_dict(cls, obj: dict[str, Any]) -> RetrievalRequest:
        window = _window_or_none(obj["window"])
        assert window is not None
        return cls(window, float(obj["fps"]), str(obj.get("text", "")))


@dataclass(frozen=True)
class Evidence:
    """Frames the runtime actually showed the model: the sampled ``window`` (after clamping), each
    frame's true time, the frame size ``(height, width)`` in pixels, the clip's own frame rate and
    the number of visual tokens it cost. ``notes`` say what was adjusted (clamped, capped)."""

    window: Window | None
    timestamps: tuple[float, ...]
    frame_size: tuple[int, int]
    fps: float
    visual_tokens: int
    notes: tuple[str, ...] = ()

    @property
    def frames(self) -> int:
        return len(self.timestamps)

    def to_dict(self) -> dict[str, object]:
        return {
            "window": self.window.to_list() if self.window else None,
            "timestamps": list(self.timestamps),
            "frames": self.frames,
            "frame_size": list(self.frame_size),
            "fps": self.fps,
            "visual_tokens": self.visual_tokens,
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, obj: dict[str, Any]) -> Evidence:
        h, w = obj["frame_size"]
        return cls(
            window=_window_or_none(obj.get("window")),
            timestamps=tuple(float(t) for t in obj["timestamps"]),
            frame_size=(int(h), int(w)),
            fps=float(obj["fps"]),
            visual_tokens=int(obj["visual_tokens"]),
            notes=tuple(obj.get("notes", ())),
        )


@dataclass
class Step:
    """One segment of an episode: the text up to a retrieval request (or to the end) and what the
    runtime did with the request.

    ``text`` is the segment as decoded (``forced`` is the part the runtime wrote, e.g. a prefill);
    ``status`` is ``"fetched"`` (``evidence`` was spliced in), ``"rejected"`` (``reason`` says why;
    the model was told in-band) or ``"final"`` (the segment that ended the turn). ``injected`` is
    the text the runtime appended after the segment: ``"<video>"`` standing for a spliced clip, or
    the in-band note. ``tokens_out`` counts tokens the model sampled in the segment, ``tokens_in``
    the tokens the runtime injected (prefill, clip block, note). ``elapsed`` is seconds since the
    episode started when the step ended; ``fetch_seconds`` the decode + processor time.

    Agent steps (VideoMind: one per role call) also set ``role`` (planner, grounder, verifier,
    answerer), ``adapter`` (the LoRA adapter active; ``None`` = the base model), ``prompt`` (the
    role's user text), ``candidates`` and their ``scores`` (absolute seconds, in the role's rank
    order) and ``seconds`` (the role's own wall time); ``evidence`` is the clip the role saw.
    """

    text: str
    status: str = "final"
    forced: str = ""
    request: RetrievalRequest | None = None
    reason: str | None = None
    evidence: Evidence | None = None
    injected: str = ""
    tokens_out: int = 0
    tokens_in: int = 0
    fetch_seconds: float = 0.0
    elapsed: float = 0.0
    role: str | None = None
    adapter: str | None = None
    prompt: str = ""
    candidates: list[Window] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, object]:
        agent: dict[str, object] = {}
        if self.role is not None:  # agent fields only on agent steps
            agent = {
                "role": self.role,
                "adapter": self.adapter,
                "prompt": self.prompt,
                "candidates": [w.to_list() for w in self.candidates],
                "scores": list(self.scores),
                "seconds": self.seconds,
            }
        return {
            "text": self.text,
            "status": self.status,
            "forced": self.forced,
            "request": self.request.to_dict() if self.request else None,
            "reason": self.reason,
            "evidence": self.evidence.to_dict() if self.evidence else None,
            "injected": self.injected,
            "tokens_out": self.tokens_out,
            "tokens_in": self.tokens_in,
            "fetch_seconds": self.fetch_seconds,
            "elapsed": self.elapsed,
        } | agent

    @classmethod
    def from_dict(cls, obj: dict[str, Any]) -> Step:
        return cls(
            text=obj["text"],
            status=obj["status"],
            forced=obj.get("forced", ""),
            request=RetrievalRequest.from_dict(obj["request"]) if obj.get("request") else None,
            reason=obj.get("reason"),
            evidence=Evidence.from_dict(obj["evidence"]) if obj.get("evidence") else None,
            injected=obj.get("injected", ""),
            tokens_out=int(obj.get("tokens_out", 0)),
            tokens_in=int(obj.get("tokens_in", 0)),
            fetch_seconds=float(obj.get("fetch_seconds", 0.0)),
            elapsed=float(obj.get("elapsed", 0.0)),
            role=obj.get("role"),
            adapter=obj.get("adapter"),
            prompt=obj.get("prompt", ""),
            candidates=[w for w in map(_window_or_none, obj.get("candidates", ())) if w],
            scores=[float(x) for x in obj.get("scores", ())],
            seconds=float(obj.get("seconds", 0.0)),
        )


@dataclass(frozen=True)
class Answer:
    """The final answer read from a response: the answer region's ``text`` (``<answer>…</answer>``,
    else the text after ``</think>``, else all), an option ``letter`` (only when the question had
    options and one could be read) and the time ``windows`` it names, in the order given. A
    method that ranks moments itself (VideoMind) puts them in ``windows``, best first, with their
    ``scores``."""

    text: str = ""
    letter: str | None = None
    windows: tuple[Window, ...] = ()
    scores: tuple[float, ...] = ()

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "text": self.text,
            "letter": self.letter,
            "windows": [w.to_list() for w in self.windows],
        }
        if self.scores:
            out["scores"] = list(self.scores)
        return out

    @classmethod
    def from_dict(cls, obj: dict[str, Any]) -> Answer:
        windows = tuple(w for w in (_window_or_none(x) for x in obj.get("windows", ())) if w)
        scores = tuple(float(x) for x in obj.get("scores", ()))
        return cls(obj.get("text", ""), obj.get("letter"), windows, scores)


@dataclass
class Trace:
    """Everything one inference episode did, JSON-serialisable (``to_dict`` / ``from_dict``).

    ``overview`` is the clip in the prompt, ``steps`` the segments of the assistant turn,
    ``response`` the assistant text with ``"<video>"`` where a clip was spliced (DynFrame's
    training-data layout) and in-band notes verbatim. ``budgets`` are the limits in force,
    ``usage`` the totals (prompt / generated tokens, visual tokens, frames, rounds, rejected).
    ``error`` names why the sample failed (then most fields are empty).
    """

    id: str
    method: str
    video: str
    question: str
    options: tuple[str, ...] = ()
    duration: float | None = None
    overview: Evidence | None = None
    steps: list[Step] = field(default_factory=list)
    response: str = ""
    answer: Answer = field(default_factory=Answer)
    budgets: dict[str, float] = field(default_factory=dict)
    usage: dict[str, float] = field(default_factory=dict)
    stop_reason: str | None = None
    seconds: float = 0.0
    error: str | None = None

    @property
    def evidence(self) -> list[Evidence]:
        """Clips fetched by retrieval requests, in order."""
        return [s.evidence for s in self.steps if s.status == "fetched" and s.evidence]

    def to_prediction(self) -> Prediction:
        """The evaluation record: the answer's windows (else the fetched windows) and answer."""
        windows = list(self.answer.windows) or [e.window for e in self.evidence if e.window]
        scored = bool(self.answer.scores) and len(self.answer.scores) == len(windows)
        return Prediction(
            id=self.id,
            windows=windows,
            scores=list(self.answer.scores) if scored else None,
            answer=self.answer.letter or self.answer.text or None,
            response=self.response,
            error=self.error,
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "method": self.method,
            "video": self.video,
            "question": self.question,
            "options": list(self.options),
            "duration": self.duration,
            "overview": self.overview.to_dict() if self.overview else None,
            "steps": [s.to_dict() for s in self.steps],
            "response": self.response,
            "answer": self.answer.to_dict(),
            "budgets": dict(self.budgets),
            "usage": dict(self.usage),
            "stop_reason": self.stop_reason,
            "seconds": self.seconds,
            "error": self.error,
        }

    @classmethod
    def from_dict(cls, obj: dict[str, Any]) -> Trace:
        return cls(
            id=str(obj["id"]),
            method=obj["method"],
            video=obj["video"],
            question=obj["question"],
            options=tuple(obj.get("options", ())),
            duration=obj.get("duration"),
            overview=Evidence.from_dict(obj["overview"]) if obj.get("overview") else None,
            steps=[Step.from_dict(s) for s in obj.get("steps", ())],
            response=obj.get("response", ""),
            answer=Answer.from_dict(obj.get("answer", {})),
            budgets=dict(obj.get("budgets", {})),
            usage=dict(obj.get("usage", {})),
            stop_reason=obj.get("stop_reason"),
            seconds=float(obj.get("seconds", 0.0)),
            error=obj.get("error"),
        )
