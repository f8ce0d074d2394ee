"""``probe(path)``: what a video file really holds, read from its packets, cached per file.

Container headers lie: frame counts and ``frames / average_rate`` are wrong for variable frame rate
files and for streams that start after 0 s. So probe demuxes the video stream once (no decoding
beyond the first frame) and keeps every frame's own presentation time and keyframe flag.

Time origin: the container's start time, as players show it (mpv's default "rebase start time").
For an ordinary mp4 this is 0 and nothing shifts; for a stream whose first frame comes after the
container start (audio first, say) the first frame has a positive time.
"""

from __future__ import annotations

import os
import stat
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import av
import numpy as np

from framescope.errors import CorruptVideoError, NotAVideoError, VideoNotFoundError

_PROBE_CACHE_SIZE = 256


@dataclass(frozen=True)
class VideoInfo:
    """Facts about one video file. Times are absolute seconds from the container start."""

    path: str
    duration: float  # end of the last frame's display interval
    frame_count: int
    avg_fps: float  # frame_count / duration
    nominal_fps: float | None  # what the container claims
    width: int  # as displayed (rotation applied)
    height: int
    rotation: int  # counter-clockwise degrees applied to decoded frames for display
    codec: str
    has_audio: bool
    start_offset: float  # container start in the file's own clock (seconds)
    truncated: bool  # packets end early (demux error, or fewer than the container's index lists)
    declared_duration: float | None  # what the header claims; beyond ``duration`` when truncated
    timestamps: np.ndarray = field(repr=False)  # (F,) float64, sorted presentation times
    pts: np.ndarray = field(repr=False)  # (F,) int64, the same in stream time-base units
    keyframes: np.ndarray = field(repr=False)  # (K,) int64 indices into timestamps
    time_base: Fraction = field(repr=False)
    file_key: tuple[str, int, int] = field(repr=False)  # (real path, mtime ns, size) probed

    @property
    def keyframe_times(self) -> np.ndarray:
        return self.timestamps.take(self.keyframes)

    @property
    def variable_frame_rate(self) -> bool:
        """True when frame intervals differ by more than 5 % from their median."""
        if self.frame_count < 3:
            return False
        gaps = np.diff(self.timestamps)
        median = float(np.median(gaps))
        return bool(np.any(np.abs(gaps - median) > 0.05 * median))

    def keyframe_before(self, index: int) -> int:
        """Index of the last keyframe at or before frame ``index`` (decoding starts there)."""
        k = int(np.searchsorted(self.keyframes, index, side="right")) - 1
        return int(self.keyframes[max(k, 0)])

    def to_dict(self, timestamps: bool = False) -> dict[str, Any]:
        """JSON-ready summary; frame timestamps only when asked (they can be long)."""
        out: dict[str, Any] = {
            "path": self.path,
            "duration": round(self.duration, 6),
            "frame_count": self.frame_count,
            "avg_fps": round(self.avg_fps, 6),
            "nominal_fps": None if self.nominal_fps is None else round(self.nominal_fps, 6),
            "variable_frame_rate": self.variable_frame_rate,
            "width": self.width,
            "height": self.height,
            "rotation": self.rotation,
            "codec": self.codec,
            "has_audio": self.has_audio,
            "start_offset": round(self.start_offset, 6),
            "truncated": self.truncated,
            "declared_duration": None
            if self.declared_duration is None
            else round(self.declared_duration, 6),
            "first_frame_time": round(float(self.timestamps[0]), 6),
            "last_frame_time": round(float(self.timestamps[-1]), 6),
            "keyframe_times": [round(float(t), 6) for t in self.keyframe_times],
        }
        if timestamps:
            out["frame_timestamps"] = [round(float(t), 6) for t in self.timestamps]
        return out


def check_file(path: str | os.PathLike[str]) -> os.stat_result:
    """Fail fast, before FFmpeg sees it, on a missing path, a non-file (a FIFO would hang) or an empty file."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise VideoNotFoundError("no such file", str(path)) from None
    except OSError as e:
        raise VideoNotFoundError(f"cannot access ({e.strerror})", str(path)) from None
    if not stat.S_ISREG(st.st_mode):
        raise VideoNotFoundError("not a regular file", str(path))
    if st.st_size == 0:
        raise NotAVideoError("empty file (0 bytes)", str(path))
    return st


def open_container(path: str) -> av.container.InputContainer:
    """Open with PyAV, turning FFmpeg's errors into :class:`NotAVideoError`."""
    try:
        return av.open(path, "r")
    except av.error.FFmpegError as e:
        raise NotAVideoError(f"not a readable media file ({_ffmpeg_reason(e)})", path) from None


def _ffmpeg_reason(e: Exception) -> str:
    return str(getattr(e, "strerror", None) or e).strip()


_cache: OrderedDict[tuple[str, int, int], VideoInfo] = OrderedDict()
_cache_lock = threading.Lock()


def probe(path: str | os.PathLike[str]) -> VideoInfo:
    """Probe ``path`` (cached by path, modification time and size)."""
    st = check_file(path)
    real = os.path.realpath(path)
    key = (real, st.st_mtime_ns, st.st_size)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    info = _probe_uncached(str(path), key)
    with _cache_lock:
        _cache[key] = info
        while len(_cache) > _PROBE_CACHE_SIZE:
            _cache.popitem(last=False)
    return info


def _probe_uncached(path: str, file_key: tuple[str, int, int]) -> VideoInfo:
    with open_container(path) as container:
        if not container.streams.video:
            kinds = sorted({s.type for s in container.streams}) or ["none"]
            raise NotAVideoError(f"no video stream (streams: {', '.join(kinds)})", path)
        stream = container.streams.video[0]
        time_base = stream.time_base or Fraction(1, 1_000_000)
        pts_list: list[int] = []
        key_list: list[bool] = []
        durations: list[int] = []
        rotation: int | None = None
        truncated = False
        try:
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                ts = packet.pts if packet.pts is not None else packet.dts
                if ts is None:
                    continue
                pts_list.append(ts)
                key_list.append(packet.is_keyframe)
                durations.append(packet.duration or 0)
                if rotation is None:
                    rotation = _first_rotation(packet.decode)
        except av.error.FFmpegError:
            truncated = True
        if not pts_list:
            raise NotAVideoError("video stream has no frames", path)
        if rotation is None:  # a decoder with delay may give its first frame only when flushed
            rotation = _first_rotation(lambda: stream.codec_context.decode(None))
        if rotation is None:
            raise CorruptVideoError("no frame of the video stream can be decoded", path, 0.0)
        if container.start_time is not None:
            origin = Fraction(container.start_time, 1_000_000)
        else:
            origin = min(pts_list) * time_base
        # A file cut short (a failed download, say) demuxes cleanly up to the cut: compare with the
        # container's own sample table, which still lists every frame.
        indexed = sum(1 for e in stream.index_entries if not e.is_discard)
        truncated = truncated or indexed > len(pts_list)
        declared = None
        if stream.duration:
            declared = float(stream.duration * time_base)
        elif container.duration:
            declared = container.duration / 1_000_000
        rate = stream.average_rate or stream.guessed_rate
        has_audio = bool(container.streams.audio)
        codec = stream.codec_context.name
        coded_w, coded_h = stream.codec_context.width, stream.codec_context.height

    order = np.argsort(np.asarray(pts_list, dtype=np.int64), kind="stable")
    pts = np.asarray(pts_list, dtype=np.int64)[order]
    keep = np.concatenate([[True], np.diff(pts) > 0])  # duplicate pts: keep the first
    pts, order = pts[keep], order[keep]
    keyflags = np.asarray(key_list)[order]
    if not keyflags[0]:
        keyflags[0] = True  # decoding always starts at the first packet
    tb = float(time_base)
    timestamps = pts.astype(np.float64) * tb - float(origin)
    last_duration = durations[order[-1]] * tb
    if last_duration <= 0:
        last_duration = (
            float(np.median(np.diff(timestamps)))
            if len(pts) > 1
            else (1 / float(rate) if rate else 0.0)
        )
    duration = float(timestamps[-1] + last_duration)
    quarter = rotation % 180 == 90
    return VideoInfo(
        path=path,
        duration=duration,
        frame_count=len(pts),
        avg_fps=len(pts) / duration if duration > 0 else 0.0,
        nominal_fps=float(rate) if rate else None,
        width=coded_h if quarter else coded_w,
        height=coded_w if quarter else coded_h,
        rotation=rotation,
        codec=codec,
        has_audio=has_audio,
        start_offset=float(origin),
        truncated=truncated,
        declared_duration=declared,
        timestamps=timestamps,
        pts=pts,
        keyframes=np.flatnonzero(keyflags).astype(np.int64),
        time_base=time_base,
        file_key=file_key,
    )


def _first_rotation(decode: Callable[[], list[av.VideoFrame]]) -> int | None:
    """Run one decoder step (a packet, or a flush); the first frame out gives the display rotation."""
    try:
        frames = decode()
    except av.error.FFmpegError:
        return None
    for frame in frames:
        return round(frame.rotation / 90.0) * 90 % 360
    return None
