"""DynFrame's span-density grammar: read, write and validate ``<span>s - e</span><fps>k</fps>``.

Implements the request interface of DynFrame (span-density retrieval): while reasoning the model
writes a window in seconds and a sampling density; the runtime fetches exactly that evidence.

**Reading** (:func:`parse_request`) is total: the text since the last splice, ending in
``</fps>``, gives a :class:`~framescope.types.RetrievalRequest` or an :class:`InvalidRequest`
saying why, never an exception. It tolerates what models write around the numbers: spaces and
newlines anywhere, integers or decimals (``2``, ``0.5``, ``1.50 - 3``, ``.5``), a unit
(``3s``, ``3 sec``, ``3 seconds``; ``2fps``), clock times (``1:05``, ``0:01:05.5``), the
separators ``-`` ``–`` ``—`` ``~`` ``to`` ``,`` and brackets (``[3, 7]``). Only the last
``<span>…</span>`` directly before the final ``<fps>…</fps>`` counts.

**Validation** (:func:`validate`) against :class:`Budgets` (defaults follow DynFrame's rollout
settings: 128 frames per retrieval, 3 rounds; densities up to 30 fps, the release's maximum):

- the window is clamped to the video (noted); a reversed, empty or outside window is rejected;
- the density must satisfy ``0 < fps <= max_fps`` (fractions allowed), else rejected;
- more frames than ``max_frames`` are capped by the sampler (noted), not rejected;
- a request after ``max_rounds`` fetched retrievals, or whose clip would take the episode past
  ``max_visual_tokens`` (overview included), is rejected;
- with ``fixed_fps`` set, an accepted request is served at that density instead of its own
  (noted): the fixed-density ablation, where the model chooses only the window.

**In-band convention.** A rejected request is never fetched and never dropped: the trace records
it with the reason, and the runtime appends :func:`rejection_note` to the same assistant turn,
``"\\n[retrieval rejected: <reason>]\\n"``, so the model reads why and can ask again or answer.
Injected notes are runtime tokens (mask 0): they get no loss and no advantage in training.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass

from framescope.errors import ConfigError
from framescope.types import RetrievalRequest, Window

SPAN_OPEN, SPAN_CLOSE, FPS_OPEN, FPS_CLOSE = "<span>", "</span>", "<fps>", "</fps>"


@dataclass(frozen=True)
class InvalidRequest:
    """Text that ends a request but cannot be read as one; ``reason`` says why."""

    text: str
    reason: str


@dataclass(frozen=True)
class Budgets:
    """Limits on what retrieval may fetch in one episode (reported in every trace)."""

    max_frames: int = 128  # frames per retrieval; more are capped (DynFrame rollouts: 128)
    max_rounds: int = 3  # fetched retrievals per episode
    max_fps: float = 30.0  # density ceiling (the release accepts integers 1-30)
    max_visual_tokens: int = 32768  # visual tokens per episode, overview included
    # serve every accepted request at this density, whatever the model wrote (the fixed-density
    # ablation of DynFrame: the model picks the window, the runtime the density); None: its own
    fixed_fps: float | None = None

    def __post_init__(self) -> None:
        if not (
            self.max_frames >= 2
            and self.max_rounds >= 0
            and self.max_fps > 0
            and self.max_visual_tokens >= 0
            and (self.fixed_fps is None or 0 < self.fixed_fps <= self.max_fps)
        ):
            raise ConfigError(
                f"bad retrieval budgets {self}: need max_frames >= 2, max_rounds >= 0, "
                "max_fps > 0, max_visual_tokens >= 0, 0 < fixed_fps <= max_fps"
            )

    def to_dict(self) -> dict[str, float]:
        """The limits as plain numbers (``fixed_fps`` only when set)."""
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class Used:
    """What an episode has spent so far."""

    rounds: int = 0
    visual_tokens: int = 0


@dataclass(frozen=True)
class Accepted:
    """A request to fetch: the (clamped) window at ``fps``, with notes on adjustments."""

    request: RetrievalRequest
    window: Window
    fps: float
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rejected:
    """A request not to fetch, and why (told to the model in-band)."""

    request: RetrievalRequest | InvalidRequest
    reason: str


# ---------------------------------------------------------------------------- reading

_NUM = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"
_CLOCK = r"\d{1,2}(?::\d{1,2}){1,2}(?:\.\d+)?"
_TIME = rf"({_CLOCK}|{_NUM})\s*(?:seconds?|secs?|s)?"
_SEP = r"(?:-|–|—|~|\bto\b|,)"
_SPAN = re.compile(rf"^\s*[\[(]?\s*{_TIME}\s*{_SEP}\s*{_TIME}\s*[\])]?\s*$", re.I)
_FPS = re.compile(rf"^\s*({_NUM})\s*(?:fps|frames?\s*(?:per|/)\s*s(?:ec(?:ond)?)?)?\s*$", re.I)


def _seconds(token: str) -> float:
    total = 0.0
    for part in token.split(":"):
        total = total * 60 + float(part)
    return total


def parse_request(text: str) -> RetrievalRequest | InvalidRequest:
    """The request that ``text`` ends with (see the module docstring); never raises."""
    body = text.rstrip()
    if not body.endswith(FPS_CLOSE):
        return InvalidRequest(text[-80:], f"text does not end with {FPS_CLOSE}")
    fps_at = body.rfind(FPS_OPEN, 0, len(body) - len(FPS_CLOSE))
    if fps_at < 0:
        return InvalidRequest(text[-80:], f"{FPS_CLOSE} without {FPS_OPEN}")
    fps_text = body[fps_at + len(FPS_OPEN) : -len(FPS_CLOSE)]
    before = body[:fps_at].rstrip()
    if not before.endswith(SPAN_CLOSE):
        return InvalidRequest(body[fps_at:], f"no <span>…</span> right before {FPS_OPEN}")
    span_at = before.rfind(SPAN_OPEN)
    if span_at < 0:
        return InvalidRequest(body[fps_at:], f"{SPAN_CLOSE} without {SPAN_OPEN}")
    raw = body[span_at:]
    span_text = before[span_at + len(SPAN_OPEN) : -len(SPAN_CLOSE)]
    span = _SPAN.match(span_text)
    if span is None:
        return InvalidRequest(
            raw, f"cannot read a window 'start - end' in seconds from {span_text.strip()!r}"
        )
    density = _FPS.match(fps_text)
    if density is None:
        return InvalidRequest(raw, f"cannot read a density from {fps_text.strip()!r}")
    try:
        start, end, fps = _seconds(span.group(1)), _seconds(span.group(2)), float(density.group(1))
    except ValueError:  # a clock part like "1:2:3:4" the pattern cannot produce; kept total
        return InvalidRequest(raw, "unreadable number")
    if not all(math.isfinite(x) for x in (start, end, fps)):
        return InvalidRequest(raw, "numbers must be finite")
    return RetrievalRequest(Window(start, end), fps, raw)


def _number(x: float) -> str:
    """Shortest plain decimal (2, 0.5, 2.25): no exponent, no trailing zeros."""
    return f"{x:.6f}".rstrip("0").rstrip(".") or "0"


def format_request(window: Window, fps: float) -> str:
    """``<span>6.50 - 10.50</span><fps>2</fps>`` (times with two decimals, as DynFrame's data)."""
    return f"{SPAN_OPEN}{window.start:.2f} - {window.end:.2f}{SPAN_CLOSE}{FPS_OPEN}{_number(fps)}{FPS_CLOSE}"


def rejection_note(reason: str) -> str:
    """The in-band text appended after a rejected request."""
    return f"\n[retrieval rejected: {reason}]\n"


# ---------------------------------------------------------------------------- validation


def validate(
    request: RetrievalRequest | InvalidRequest,
    duration: float,
    budgets: Budgets,
    used: Used,
    cost: Callable[[Window, float], int] | None = None,
) -> Accepted | Rejected:
    """Decide whether to fetch ``request`` in a video of ``duration`` seconds.

    ``cost(window, fps)`` gives the visual tokens the clip would take (the sampler's frame count
    and pixel budget); without it the token budget is not checked.
    """
    if isinstance(request, InvalidRequest):
        return Rejected(request, request.reason)
    if used.rounds >= budgets.max_rounds:
        return Rejected(request, f"the limit of {budgets.max_rounds} retrievals is reached")
    w, fps = request.window, request.fps
    if w.start >= w.end:
        return Rejected(
            request, f"window start {_number(w.start)} is not before its end {_number(w.end)}"
        )
    if not (0 < fps <= budgets.max_fps):
        return Rejected(
            request, f"fps must be in (0, {_number(budgets.max_fps)}], got {_number(fps)}"
        )
    clamped = w.clamp(0.0, duration)
    if not clamped.duration > 0:
        return Rejected(
            request,
            f"window {_number(w.start)} - {_number(w.end)} s is outside the video (0 - {duration:.2f} s)",
        )
    notes = (
        () if clamped == w else (f"window {w} clamped to {clamped} (video is {duration:.2f} s)",)
    )
    if budgets.fixed_fps is not None and budgets.fixed_fps != fps:
        notes += (f"density fixed at {_number(budgets.fixed_fps)} fps (asked {_number(fps)})",)
        fps = budgets.fixed_fps
    if cost is not None:
        tokens = cost(clamped, fps)
        left = budgets.max_visual_tokens - used.visual_tokens
        if tokens > left:
            return Rejected(
                request, f"needs {tokens} visual tokens, {max(left, 0)} left in the budget"
            )
    return Accepted(request, clamped, fps, notes)
