"""Writing real video files (H.264 by default) with PyAV, and frames that carry their own index.

Used by the synthetic world, the tests and the benchmarks: every file is encoded by a real encoder
and read back by a real decoder, so timing and exactness are checked against ground truth.
"""

from __future__ import annotations

import itertools
import math
import os
import tempfile
from collections.abc import Iterable, Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from framescope.fileio import publish

STAMP_BITS = 16
_STAMP_COLS = 8
_STAMP_ROWS = STAMP_BITS // _STAMP_COLS


def stamp_index(frame: np.ndarray, index: int, band: float = 0.25) -> np.ndarray:
    """Write ``index`` as 16 black/white cells into the top ``band`` of ``frame`` (in place).

    The cells are large (an eighth of the width each) so the index survives H.264 compression and
    downscaling to a few dozen pixels; :func:`read_index` reads it back.
    """
    if not 0 <= index < 2**STAMP_BITS:
        raise ValueError(f"index {index} does not fit in {STAMP_BITS} bits")
    h, w = frame.shape[:2]
    band_h = max(_STAMP_ROWS, int(h * band))
    for bit in range(STAMP_BITS):
        r, c = divmod(bit, _STAMP_COLS)
        y0, y1 = r * band_h // _STAMP_ROWS, (r + 1) * band_h // _STAMP_ROWS
        x0, x1 = c * w // _STAMP_COLS, (c + 1) * w // _STAMP_COLS
        frame[y0:y1, x0:x1] = 255 if (index >> bit) & 1 else 0
    return frame


def read_index(frame: np.ndarray, band: float = 0.25) -> int:
    """Read the index written by :func:`stamp_index` from the centre of each cell."""
    h, w = frame.shape[:2]
    band_h = max(_STAMP_ROWS, int(h * band))
    index = 0
    for bit in range(STAMP_BITS):
        r, c = divmod(bit, _STAMP_COLS)
        yc = (2 * r + 1) * band_h // (2 * _STAMP_ROWS)
        xc = (2 * c + 1) * w // (2 * _STAMP_COLS)
        patch = frame[max(0, yc - 1) : yc + 2, max(0, xc - 1) : xc + 2]
        if patch.mean() > 127:
            index |= 1 << bit
    return index


def write_video(
    path: str | os.PathLike[str],
    frames: Iterable[np.ndarray],
    *,
    fps: float | None = None,
    timestamps: Sequence[float] | None = None,
    codec: str = "libx264",
    crf: int = 20,
    gop: int | None = None,
    bframes: int | None = None,
    preset: str = "veryfast",
    rotation: int = 0,
    audio: bool = False,
    faststart: bool = False,
    container_format: str | None = None,
) -> Path:
    """Encode RGB frames ``(H, W, 3)`` uint8 to ``path`` and return it. The write is atomic.

    Either ``fps`` (constant rate) or ``timestamps`` (one presentation time per frame, seconds,
    increasing; variable rate and non-zero start allowed) gives the timing. ``gop`` is the keyframe
    interval in frames, ``rotation`` a display rotation in degrees (counter-clockwise, as
    ``VideoFrame.rotation`` reads it back), ``audio`` adds a quiet sine track of the same length.
    """
    if (fps is None) == (timestamps is None):
        raise ValueError("give exactly one of fps or timestamps")
    path = Path(path)
    time_base = Fraction(1, 90000)
    seconds = list(timestamps or [])
    if fps is not None:
        rate = Fraction(fps).limit_denominator(1001)
    else:
        if any(b <= a for a, b in itertools.pairwise(seconds)):
            raise ValueError("timestamps must increase strictly")
        gaps = np.diff(seconds) if len(seconds) > 1 else np.array([1 / 30])
        rate = Fraction(1 / float(np.median(gaps))).limit_denominator(1001)

    def pts_of(i: int) -> int:
        t = i / rate if fps is not None else Fraction(seconds[i])
        return round(t / time_base)

    suffix = path.suffix or ".mp4"
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=path.parent)
    os.close(fd)
    options = {"movflags": "+faststart"} if faststart else {}
    try:
        with av.open(tmp, "w", format=container_format, options=options) as out:
            stream = out.add_stream(codec, rate=rate)
            stream.time_base = time_base
            stream.codec_context.time_base = time_base
            codec_options = (
                {"crf": str(crf), "preset": preset} if codec.startswith("libx264") else {}
            )
            if gop is not None:
                stream.codec_context.gop_size = gop
                if codec.startswith("libx264"):
                    codec_options.update(
                        {"keyint": str(gop), "min-keyint": str(gop), "scenecut": "0"}
                    )
            if bframes is not None:
                codec_options["bf"] = str(bframes)
            stream.options = codec_options
            stream.pix_fmt = "yuv420p"
            if rotation:
                stream.set_display_rotation(rotation)
            audio_stream = out.add_stream("aac", rate=16000) if audio else None
            last_pts = 0
            for i, image in enumerate(frames):
                if i == 0:
                    stream.height, stream.width = image.shape[:2]
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
                frame.pts = last_pts = pts_of(i)
                frame.time_base = time_base
                out.mux(stream.encode(frame))
            out.mux(stream.encode(None))
            if audio_stream is not None:
                _write_tone(
                    out, audio_stream, seconds=float(last_pts * time_base) + 1 / float(rate)
                )
        publish(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _write_tone(out: av.container.OutputContainer, stream: av.AudioStream, seconds: float) -> None:
    sr = stream.codec_context.sample_rate
    n = int(seconds * sr)
    t = np.arange(n) / sr
    samples = (0.1 * np.sin(2 * math.pi * 440 * t)).astype(np.float32)
    chunk = stream.codec_context.frame_size or 1024
    for start in range(0, n, chunk):
        block = samples[start : start + chunk]
        frame = av.AudioFrame.from_ndarray(block[None, :], format="flt", layout="mono")
        frame.sample_rate = sr
        frame.pts = start
        out.mux(stream.encode(frame))
    out.mux(stream.encode(None))


def write_audio_only(path: str | os.PathLike[str], seconds: float = 1.0) -> Path:
    """An AAC file with no video stream (for the 'no video stream' error path)."""
    path = Path(path)
    with av.open(str(path), "w", format="mp4") as out:
        _write_tone(out, out.add_stream("aac", rate=16000), seconds)
    return path
