"""Span-density sampling: a window of a video at a chosen density, sized for a Qwen-VL family.

``sample(video, Window(s, e), fps=k)`` returns about ``(e - s) * k`` frames of that window;
``num_frames=n`` asks for a count instead, and no window means the whole video (uniform
sampling is the special case). Frame counts follow qwen-vl-utils: rounded to the temporal patch
(2), bounded by ``min_frames``/``max_frames``, and never more than the window holds. Frames are
spread like Qwen's sampler (evenly from the first to the last frame inside the window), and each
frame is resized, keeping its aspect ratio, to multiples of the family's patch factor (28 for
Qwen2/2.5-VL, 32 for Qwen3-VL) within the pixel budget.

Everything adjusted on the way (window clamped to the video, frame count capped) is reported in
``Clip.notes``; everything impossible raises :class:`SamplingError`.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from framescope.errors import SamplingError
from framescope.families import FAMILIES
from framescope.types import Clip, Window
from framescope.video.cache import FrameCache
from framescope.video.decode import (
    Decoder,
    decode_indices,
    get_decoder,
    prefer_keyframes,
    select_frames,
)
from framescope.video.probe import VideoInfo, probe

TEMPORAL_PATCH = 2  # Qwen-VL encodes frames in pairs
MAX_FPS = 1000.0  # above this a request is a bug, not a density
MAX_ASPECT_RATIO = 200  # Qwen's processors reject more elongated frames


@dataclass(frozen=True)
class PixelBudget:
    """Per-frame pixel bounds and the size factor frames are rounded to.

    ``total_pixels`` optionally bounds the whole clip; per frame that gives at most
    ``total_pixels / n * 2`` pixels (qwen-vl-utils' rule), never less than ``min_pixels * 1.05``.
    """

    min_pixels: int = 128 * 28 * 28
    max_pixels: int = 768 * 28 * 28
    factor: int = 28
    total_pixels: int | None = None

    @classmethod
    def for_family(
        cls, family: str, min_tokens: int | None = None, max_tokens: int | None = None
    ) -> PixelBudget:
        """qwen-vl-utils' video defaults for ``family`` (:mod:`framescope.families`): 128-768
        merged tokens per frame, frame sides multiples of 28 (32 for Qwen3-VL)."""
        if family not in FAMILIES:
            raise SamplingError(f"unknown model family {family!r}; choose from {', '.join(FAMILIES)}")
        fam = FAMILIES[family]
        f = fam.factor
        lo, hi = min_tokens or fam.min_tokens, max_tokens or fam.max_tokens
        return cls(lo * f * f, hi * f * f, f)

    def frame_max_pixels(self, num_frames: int) -> int:
        if self.total_pixels is None:
            return self.max_pixels
        per_frame = self.total_pixels / max(num_frames, 1) * TEMPORAL_PATCH
        return int(max(min(self.max_pixels, per_frame), self.min_pixels * 1.05))


def smart_resize(
    height: int, width: int, factor: int, min_pixels: int, max_pixels: int
) -> tuple[int, int]:
    """Qwen's resize rule: nearest multiples of ``factor``, scaled into ``[min_pixels, max_pixels]``."""
    if height <= 0 or width <= 0:
        raise SamplingError(f"frame size {width}x{height} is empty")
    if max(height, width) / min(height, width) > MAX_ASPECT_RATIO:
        raise SamplingError(f"aspect ratio of {width}x{height} exceeds {MAX_ASPECT_RATIO}")
    h = max(factor, round(height / factor) * factor)
    w = max(factor, round(width / factor) * factor)
    if h * w > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h = max(factor, math.floor(height / beta / factor) * factor)
        w = max(factor, math.floor(width / beta / factor) * factor)
    elif h * w < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h = math.ceil(height * beta / factor) * factor
        w = math.ceil(width * beta / factor) * factor
    return h, w


def _round_to_patch(n: float) -> int:
    return max(TEMPORAL_PATCH, round(n / TEMPORAL_PATCH) * TEMPORAL_PATCH)


def frame_count(
    duration: float,
    *,
    fps: float | None,
    num_frames: int | None,
    available: int,
    min_frames: int,
    max_frames: int,
) -> tuple[int, list[str]]:
    """How many frames a request gets, and notes on any cap applied."""
    notes = []
    if num_frames is not None:
        n = _round_to_patch(num_frames)
    else:
        assert fps is not None
        n = _round_to_patch(duration * fps)
    lo = math.ceil(min_frames / TEMPORAL_PATCH) * TEMPORAL_PATCH
    hi = max(TEMPORAL_PATCH, math.floor(max_frames / TEMPORAL_PATCH) * TEMPORAL_PATCH)
    if n > hi:
        notes.append(f"frame count capped at max_frames={hi} (asked {n})")
        n = hi
    n = max(n, lo)
    room = max(TEMPORAL_PATCH, available // TEMPORAL_PATCH * TEMPORAL_PATCH)
    if n > room:
        notes.append(f"window holds {available} frames; sampling {room} (asked {n})")
        n = room
    return n, notes


def resolve_window(info: VideoInfo, window: Window | None) -> tuple[Window, list[str]]:
    """Validate and clamp a requested window to the video."""
    full = Window(0.0, info.duration)
    if window is None:
        return full, []
    s, e = window.start, window.end
    if not (math.isfinite(s) and math.isfinite(e)):
        raise SamplingError(f"window bounds must be finite numbers, got {s}–{e}")
    if s > e:
        raise SamplingError(f"window start {s:.3f} s is after its end {e:.3f} s")
    if s == e:
        raise SamplingError(f"window {s:.3f}–{e:.3f} s is empty")
    clamped = window.clamp(0.0, info.duration)
    if not clamped.duration > 0:
        raise SamplingError(f"window {window} lies outside the video (0.00–{info.duration:.2f} s)")
    notes = (
        []
        if clamped == window
        else [f"window {window} clamped to {clamped} (video is {info.duration:.2f} s)"]
    )
    return clamped, notes


def sample(
    video: str | os.PathLike[str] | VideoInfo,
    window: Window | None = None,
    *,
    fps: float | None = None,
    num_frames: int | None = None,
    min_frames: int = TEMPORAL_PATCH,
    max_frames: int = 768,
    budget: PixelBudget | None = PixelBudget(),
    exact: bool = False,
    cache: FrameCache | None = None,
    decoder: str | Decoder = "pyav",
) -> Clip:
    """Sample ``window`` (default: the whole video) at ``fps`` frames per second, or ``num_frames`` frames.

    ``budget=None`` keeps the native size. ``exact=False`` lets each frame move to a keyframe
    within half a sampling interval when one is there (much cheaper on long-GOP files; the
    reported timestamp is still that frame's true time); ``exact=True`` always takes the frame
    nearest each sampling point.
    """
    info = video if isinstance(video, VideoInfo) else probe(video)
    if (fps is None) == (num_frames is None):
        raise SamplingError("give exactly one of fps or num_frames")
    if fps is not None and not (
        isinstance(fps, (int, float)) and math.isfinite(fps) and 0 < fps <= MAX_FPS
    ):
        raise SamplingError(f"fps must be a number in (0, {MAX_FPS:g}], got {fps}")
    if num_frames is not None and not (isinstance(num_frames, int) and num_frames >= 1):
        raise SamplingError(f"num_frames must be a positive integer, got {num_frames}")
    if not (
        isinstance(max_frames, int)
        and isinstance(min_frames, int)
        and 1 <= min_frames <= max_frames
    ):
        raise SamplingError(
            f"need 1 <= min_frames <= max_frames, got {min_frames} and {max_frames}"
        )
    win, notes = resolve_window(info, window)

    ts = info.timestamps
    lo, hi = np.searchsorted(ts, win.start, side="left"), np.searchsorted(ts, win.end, side="right")
    if hi > lo:  # frames inside the window: spread from the first to the last of them
        first, last, available = float(ts[lo]), float(ts[hi - 1]), int(hi - lo)
    else:  # a window between two frames (low frame rate): its nearest frame
        first = last = float(ts[select_frames(info, [(win.start + win.end) / 2])[0]])
        available = 1
    n, count_notes = frame_count(
        win.duration,
        fps=fps,
        num_frames=num_frames,
        available=available,
        min_frames=min_frames,
        max_frames=max_frames,
    )
    points = np.linspace(first, last, n)
    indices = select_frames(info, points)
    if not exact and n > 1:
        slack = 0.49 * (last - first) / (n - 1)
        indices = prefer_keyframes(info, points, indices, slack, win.start, win.end)

    size = None
    if budget is not None:
        h, w = smart_resize(
            info.height, info.width, budget.factor, budget.min_pixels, budget.frame_max_pixels(n)
        )
        size = (w, h)
    frames = decode_indices(info, indices, size=size, cache=cache, decoder=get_decoder(decoder))
    return Clip(
        frames=frames,
        timestamps=tuple(float(ts[i]) for i in indices),
        source=info.path,
        window=win,
        notes=tuple(notes + count_notes),
    )
