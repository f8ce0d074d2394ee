"""Synthetic videos made in the test run. Every frame carries its own index (``stamp_index``), so a
decoded frame says which frame it really is."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from framescope.video.encode import stamp_index, write_audio_only, write_video

# Real clips in ../shared/data/real_videos: (name, codec, has_audio, fps as the table gives it)
REAL_CLIPS = [
    ("KBPDM.mp4", "h264", True, 29.97),
    ("KX8VW.mp4", "h264", True, 30.0),
    ("MLBTH.mp4", "h264", True, 29.97),
    ("OHOFG.mp4", "h264", True, 9.53),
    ("v_QOlSCBRmfWY.mp4", "h264", False, 15.0),
    ("v_ehGHCYKzyZ8.mp4", "h264", False, 15.0),
    ("v_TpB_zMG3XBA.mp4", "mpeg4", False, 3.0),
    ("v_rBMQFpHspmo.mp4", "mpeg4", False, 3.0),
    ("video_r1_example1.mp4", "h264", False, 22.29),
]


def stamped_frames(n: int, height: int = 96, width: int = 128, seed: int = 0):
    """Noisy frames (so the encoder works like on real footage) with the index in the top band."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        frame = rng.integers(40, 215, (height, width, 3), dtype=np.uint8)
        yield stamp_index(frame, i)


def all_frames(path: Path) -> tuple[list[int], list[np.ndarray]]:
    """Every frame's pts and RGB pixels by plain sequential decoding (the reference)."""
    with av.open(str(path)) as c:
        pts, frames = [], []
        for f in c.decode(c.streams.video[0]):
            pts.append(f.pts)
            frames.append(f.to_ndarray(format="rgb24"))
    return pts, frames


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def cfr_video(media: Path) -> Path:
    """3 s at 30 fps, keyframe every 30 frames, B-frames on, with an audio track."""
    return write_video(media / "cfr.mp4", stamped_frames(90), fps=30, gop=30, audio=True)


@pytest.fixture(scope="session")
def long_gop_video(media: Path) -> Path:
    """20 s at 25 fps with a keyframe every 100 frames (4 s)."""
    return write_video(media / "long_gop.mp4", stamped_frames(500, 64, 96), fps=25, gop=100)


_GAPS = [0.0] + [(0.03, 0.05, 0.04)[i % 3] + (0.3 if i == 20 else 0.0) for i in range(1, 40)]
VFR_TIMES = [round(float(t), 4) for t in np.cumsum(_GAPS)]


@pytest.fixture(scope="session")
def vfr_video(media: Path) -> Path:
    """Variable frame rate (irregular gaps and one 0.3 s hole) starting at 1.5 s, video only."""
    return write_video(
        media / "vfr.mp4", stamped_frames(40), timestamps=[1.5 + t for t in VFR_TIMES], gop=10
    )


@pytest.fixture(scope="session")
def late_video(media: Path) -> Path:
    """Video that starts 1.5 s after its audio (first frame at 1.5 s on the player's clock)."""
    return write_video(
        media / "late.mp4",
        stamped_frames(20),
        timestamps=[1.5 + 0.1 * i for i in range(20)],
        audio=True,
    )


@pytest.fixture(scope="session")
def rotated_video(media: Path) -> Path:
    """Coded 128x96 with a 90° display rotation: shown as 96x128."""
    return write_video(media / "rotated.mp4", stamped_frames(10), fps=10, rotation=90)


@pytest.fixture(scope="session")
def truncated_video(media: Path) -> Path:
    """A 5 s faststart mp4 cut at 60 % of its bytes (a failed download)."""
    full = write_video(media / "full.mp4", stamped_frames(150), fps=30, gop=30, faststart=True)
    data = full.read_bytes()
    cut = media / "truncated.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    return cut


@pytest.fixture(scope="session")
def audio_only(media: Path) -> Path:
    return write_audio_only(media / "audio.m4a")


@pytest.fixture(scope="session")
def not_a_video(media: Path) -> Path:
    path = media / "notes.mp4"
    path.write_text("this is a text file with a video extension\n" * 20)
    return path


@pytest.fixture(scope="session")
def empty_file(media: Path) -> Path:
    path = media / "empty.mp4"
    path.write_bytes(b"")
    return path
