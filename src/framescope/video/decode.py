"""``decode(path, times, tolerance)``: exactly the frames asked for, decoded with as little work as possible.

Cost is set by keyframes: a frame can only be decoded by starting at the keyframe before it. The
planner sorts the wanted frames and opens one *run* per stretch that forward decoding can reach:
a new seek happens only when the next wanted frame has a keyframe after the current position.
So a contiguous window costs one seek, a whole-video overview one seek per GOP it touches, and
nothing is ever decoded twice in a call. Frames are converted to RGB (and resized, by swscale in
the same step) only when wanted.

With a ``tolerance``, any frame within it of the request is acceptable and a keyframe is
preferred: it needs no decoding beyond itself, which turns a uniform overview of a long-GOP video
from half a GOP per frame into one frame per frame. The returned timestamp is always the true
presentation time of the returned frame.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

import av
import numpy as np
from PIL import Image

from framescope.errors import CorruptVideoError, SamplingError, VideoError
from framescope.types import Clip
from framescope.video.cache import FrameCache, default_cache
from framescope.video.probe import VideoInfo, open_container, probe

Size = tuple[int, int]  # (width, height) as displayed
MIN_KEYFRAME_SAVING = 8  # frames of decoding a keyframe swap must save to be worth uneven spacing


class Decoder(Protocol):
    """A decoding backend: the frames at the given indices of ``info.timestamps``."""

    name: str

    def decode_frames(
        self, info: VideoInfo, indices: Sequence[int], size: Size | None
    ) -> dict[int, np.ndarray]:
        """Return ``{index: (H, W, 3) uint8}`` for every index; raise :class:`CorruptVideoError` otherwise."""
        ...


def _nearest(sorted_times: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Index into ``sorted_times`` of the value nearest each of ``t`` (the earlier on ties)."""
    if len(sorted_times) == 1:
        return np.zeros(len(t), dtype=np.int64)
    right = np.clip(np.searchsorted(sorted_times, t), 1, len(sorted_times) - 1)
    left = right - 1
    return np.where(np.abs(sorted_times[right] - t) < np.abs(t - sorted_times[left]), right, left)


def prefer_keyframes(
    info: VideoInfo, times: np.ndarray, nearest: Sequence[int], slack: float, lo: float, hi: float
) -> list[int]:
    """Swap a frame for a keyframe within ``slack`` of its request (and inside ``[lo, hi]``) when
    that saves decoding.

    Walks the requests in time order, tracking the last frame decoding reaches. A nearest frame
    that the current run reaches by decoding on (see :func:`plan_runs`) is kept, so a dense window
    stays evenly spaced. One that needs its own seek costs the frames from its keyframe up to it;
    when a keyframe within ``slack`` saves at least ``MIN_KEYFRAME_SAVING`` of them, it is taken
    instead, so a sparse overview of a long-GOP file costs about one decoded frame per frame.
    """
    chosen = list(nearest)
    kt = info.keyframe_times
    k_of = _nearest(kt, times)
    pos = -MIN_KEYFRAME_SAVING - 1  # last frame the decoder has reached (none yet)
    for j in np.argsort(times, kind="stable"):
        i = int(nearest[j])
        key = int(info.keyframes[k_of[j]])
        t_key = float(kt[k_of[j]])
        start = info.keyframe_before(i)
        own_seek = start > pos + MIN_KEYFRAME_SAVING
        saving = i - start
        if (
            own_seek
            and saving >= MIN_KEYFRAME_SAVING
            and abs(t_key - times[j]) <= slack + 1e-9
            and lo <= t_key <= hi
        ):
            i = key
        chosen[j] = i
        pos = max(pos, i)
    return chosen


def select_frames(
    info: VideoInfo, times: Sequence[float] | np.ndarray, tolerance: float | None = None
) -> list[int]:
    """Map requested times to frame indices: the nearest frame, or a cheaper keyframe within ``tolerance``."""
    t = np.asarray(times, dtype=np.float64)
    if t.size and not np.all(np.isfinite(t)):
        raise SamplingError(f"requested times must be finite, got {list(times)}")
    if tolerance is not None and not (np.isfinite(tolerance) and tolerance >= 0):
        raise SamplingError(f"tolerance must be a finite number >= 0, got {tolerance}")
    outside = (t < 0) | (t > info.duration)
    if np.any(outside):
        bad = float(t[outside][0])
        if info.truncated and info.declared_duration and 0 <= bad <= info.declared_duration:
            raise CorruptVideoError(
                f"cannot decode {bad:.3f} s: the file is truncated, its frames end at {info.duration:.3f} s "
                f"of {info.declared_duration:.3f} s",
                info.path,
                bad,
            )
        raise SamplingError(f"time {bad:.3f} s is outside the video (0–{info.duration:.3f} s)")
    nearest = [int(i) for i in _nearest(info.timestamps, t)]
    if tolerance is None:
        return nearest
    gap = np.abs(info.timestamps[nearest] - t)
    if np.any(gap > tolerance + 1e-9):
        k = int(np.argmax(gap > tolerance + 1e-9))
        raise SamplingError(
            f"no frame within {tolerance:.3f} s of {t[k]:.3f} s (nearest frame at {info.timestamps[nearest[k]]:.3f} s)"
        )
    return prefer_keyframes(info, t, nearest, tolerance, 0.0, info.duration)


def plan_runs(info: VideoInfo, indices: Sequence[int]) -> list[tuple[int, list[int]]]:
    """Group sorted frame indices into runs ``(keyframe to seek to, frames to keep)``.

    A frame joins the current run when its keyframe is at most ``MIN_KEYFRAME_SAVING`` frames
    after the previous wanted frame: decoding on through a few frames costs less than a seek,
    which flushes and refills the (frame-threaded) decoder.
    """
    runs: list[tuple[int, list[int]]] = []
    for i in sorted(set(indices)):
        key = info.keyframe_before(i)
        if runs and key <= runs[-1][1][-1] + MIN_KEYFRAME_SAVING:
            runs[-1][1].append(i)
        else:
            runs.append((key, [i]))
    return runs


def to_rgb(frame: av.VideoFrame, rotation: int, size: Size | None) -> np.ndarray:
    """Convert (and resize, in the same swscale pass) to displayed RGB ``(H, W, 3)`` uint8."""
    if size is not None:
        w, h = size if rotation % 180 == 0 else size[::-1]
        if (w, h) != (frame.width, frame.height):
            frame = frame.reformat(width=w, height=h, format="rgb24", interpolation="BICUBIC")
    rgb: np.ndarray = frame.to_ndarray(format="rgb24")
    return np.ascontiguousarray(np.rot90(rgb, k=rotation // 90)) if rotation else rgb


def _decoded(
    container: av.container.InputContainer, stream: av.VideoStream
) -> Iterator[av.VideoFrame]:
    """Frames from the current position to the end, skipping undecodable packets, then flushing.

    A plain loop stops a few frames early on truncated files; skipping the failing packets and
    flushing the decoder recovers every decodable frame.
    """
    try:
        for packet in container.demux(stream):
            try:
                yield from packet.decode()
            except av.error.InvalidDataError:
                continue
    except av.error.FFmpegError:
        pass
    try:
        yield from stream.codec_context.decode(None)
    except av.error.FFmpegError:
        return


class PyAVDecoder:
    """FFmpeg through PyAV (the default): frame-threaded, one seek per run."""

    name = "pyav"

    def __init__(self, threads: int = 0) -> None:
        self.threads = threads  # 0: FFmpeg picks

    def decode_frames(
        self, info: VideoInfo, indices: Sequence[int], size: Size | None
    ) -> dict[int, np.ndarray]:
        out: dict[int, np.ndarray] = {}
        with open_container(info.path) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            stream.codec_context.thread_count = self.threads
            for key, wanted in plan_runs(info, indices):
                self._run(container, stream, info, key, wanted, size, out)
        return out

    def _run(
        self,
        container: av.container.InputContainer,
        stream: av.VideoStream,
        info: VideoInfo,
        key: int,
        wanted: list[int],
        size: Size | None,
        out: dict[int, np.ndarray],
    ) -> None:
        by_pts = {int(info.pts[i]): i for i in wanted}
        last_pts = int(info.pts[wanted[-1]])
        start = key
        while True:
            container.seek(int(info.pts[start]), stream=stream, backward=True, any_frame=False)
            first_pts = None
            for frame in _decoded(container, stream):
                if frame.pts is None:
                    continue
                first_pts = frame.pts if first_pts is None else first_pts
                i = by_pts.pop(frame.pts, None)
                if i is not None:
                    out[i] = to_rgb(frame, info.rotation, size)
                if not by_pts or frame.pts >= last_pts:
                    break
            missed_early = first_pts is not None and by_pts and min(by_pts) < first_pts
            if not missed_early or start == 0:
                break
            # The seek landed after a wanted frame (an index that points past the keyframe): start earlier.
            prev = int(np.searchsorted(info.keyframes, start, side="left")) - 1
            start = int(info.keyframes[prev]) if prev >= 0 else 0
        if by_pts:
            i = by_pts[min(by_pts)]
            t = float(info.timestamps[i])
            got = [float(info.timestamps[j]) for j in out]
            hint = f"; decodable frames end at {max(got):.3f} s" if got else ""
            raise CorruptVideoError(f"cannot decode the frame at {t:.3f} s{hint}", info.path, t)


def _by_index(
    info: VideoInfo,
    backend: str,
    count: int,
    indices: Sequence[int],
    size: Size | None,
    read: Callable[[list[int]], np.ndarray],
) -> dict[int, np.ndarray]:
    """Frames from a backend that indexes frames itself (in presentation order, rotation
    applied): check it sees the same frames as the container index, read, resize here."""
    if count != info.frame_count:
        raise VideoError(
            f"{backend} sees {count} frames, the container index {info.frame_count}; use the pyav backend",
            info.path,
        )
    order = sorted(set(indices))
    batch = list(read(order))  # N x (H, W, 3) uint8
    if size is not None:
        batch = [
            np.asarray(Image.fromarray(f).resize(size, Image.Resampling.BICUBIC)) for f in batch
        ]
    return dict(zip(order, batch))


class DecordDecoder:
    """decord's ``get_batch`` (optional extra ``decord``). Fails outright on truncated files."""

    name = "decord"

    def decode_frames(
        self, info: VideoInfo, indices: Sequence[int], size: Size | None
    ) -> dict[int, np.ndarray]:
        import decord  # optional dependency

        # decord's own resizing fails for some shapes (rotated streams, portrait outputs)
        try:
            reader = decord.VideoReader(info.path, ctx=decord.cpu(0))
            return _by_index(
                info, self.name, len(reader), indices, size, lambda i: reader.get_batch(i).asnumpy()
            )
        except decord.DECORDError as e:
            t = float(info.timestamps[min(indices)])
            raise CorruptVideoError(
                f"decord failed ({str(e).splitlines()[0]})", info.path, t
            ) from None


class TorchCodecDecoder:
    """torchcodec's exact-seek ``get_frames_at`` (optional; its CPU wheels need the system's
    FFmpeg shared libraries, e.g. Debian's libavcodec59 and friends)."""

    name = "torchcodec"

    def decode_frames(
        self, info: VideoInfo, indices: Sequence[int], size: Size | None
    ) -> dict[int, np.ndarray]:
        from torchcodec.decoders import VideoDecoder  # type: ignore[attr-defined,unused-ignore]  # optional

        try:
            reader = VideoDecoder(info.path, seek_mode="exact", dimension_order="NHWC")
            count = reader.metadata.num_frames or 0
            return _by_index(
                info,
                self.name,
                count,
                indices,
                size,
                lambda i: reader.get_frames_at(i).data.numpy(),
            )
        except RuntimeError as e:
            t = float(info.timestamps[min(indices)])
            raise CorruptVideoError(
                f"torchcodec failed ({str(e).splitlines()[0]})", info.path, t
            ) from None


DECODERS: dict[str, type[Decoder]] = {
    "pyav": PyAVDecoder,
    "decord": DecordDecoder,
    "torchcodec": TorchCodecDecoder,
}


def get_decoder(decoder: str | Decoder) -> Decoder:
    """A decoder by registry name (or the decoder itself, passed through)."""
    if not isinstance(decoder, str):
        return decoder
    try:
        return DECODERS[decoder]()
    except KeyError:
        raise SamplingError(
            f"unknown decoder {decoder!r}; choose from {sorted(DECODERS)}"
        ) from None


def decode_indices(
    info: VideoInfo,
    indices: Sequence[int],
    *,
    size: Size | None = None,
    cache: FrameCache | None = None,
    decoder: Decoder | None = None,
) -> np.ndarray:
    """Frames at ``indices`` of ``info`` as ``(N, H, W, 3)``, through the cache (keyed by the file
    version ``info`` was probed from, whose timestamps the indices refer to)."""
    cache = default_cache() if cache is None else cache
    decoder = decoder or PyAVDecoder()
    file_key = info.file_key
    frames: dict[int, np.ndarray] = {}
    missing = []
    for i in set(indices):
        hit = cache.get((file_key, int(info.pts[i]), size))
        if hit is None:
            missing.append(i)
        else:
            frames[i] = hit
    if missing:
        for i, array in decoder.decode_frames(info, sorted(missing), size).items():
            cache.put((file_key, int(info.pts[i]), size), array)
            frames[i] = array
    if not indices:
        w, h = size or (info.width, info.height)
        return np.zeros((0, h, w, 3), dtype=np.uint8)
    return np.stack([frames[i] for i in indices])


def decode(
    path: str | os.PathLike[str],
    times: Sequence[float],
    tolerance: float | None = None,
    *,
    size: Size | None = None,
    cache: FrameCache | None = None,
    decoder: str | Decoder = "pyav",
) -> Clip:
    """Decode the frame nearest each time in ``times`` (absolute seconds).

    ``tolerance`` (seconds): the largest acceptable distance between a request and the frame
    returned; within it a keyframe is preferred (cheaper). ``None`` means the nearest frame,
    however far. ``size`` resizes to ``(width, height)``. Raises :class:`SamplingError` for times
    outside the video or beyond the tolerance, :class:`CorruptVideoError` naming the first time
    that cannot be decoded.
    """
    info = probe(path)
    indices = select_frames(info, times, tolerance)
    frames = decode_indices(info, indices, size=size, cache=cache, decoder=get_decoder(decoder))
    return Clip(
        frames=frames,
        timestamps=tuple(float(info.timestamps[i]) for i in indices),
        source=str(path),
    )
