from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest

from framescope.errors import NotAVideoError, VideoNotFoundError
from framescope.video.encode import write_video
from framescope.video.probe import probe

from .conftest import REAL_CLIPS, VFR_TIMES, all_frames, stamped_frames


@pytest.mark.parametrize(("name", "codec", "has_audio", "fps"), REAL_CLIPS)
def test_real_clip_probe_matches_decoded_frames(real_videos, name, codec, has_audio, fps):
    path = real_videos / name
    info = probe(path)
    pts, _ = all_frames(path)
    # every frame's time is its own presentation time, exactly as a full decode sees it
    assert info.pts.tolist() == pts
    assert info.frame_count == len(pts)
    np.testing.assert_allclose(info.timestamps, np.asarray(pts) * float(info.time_base))
    assert info.codec == codec
    assert info.has_audio is has_audio
    assert info.avg_fps == pytest.approx(fps, rel=0.01)
    # duration ends one frame interval after the last frame
    assert info.duration == pytest.approx(info.timestamps[-1] + 1 / info.avg_fps, abs=0.01)
    assert info.keyframes[0] == 0 and np.all(np.diff(info.keyframes) > 0)
    assert not info.truncated


def test_keyframes_are_keyframes(long_gop_video):
    import av

    info = probe(long_gop_video)
    with av.open(str(long_gop_video)) as c:
        keys = [f.pts for f in c.decode(c.streams.video[0]) if f.key_frame]
    assert info.pts[info.keyframes].tolist() == keys
    assert len(keys) >= 5  # every <= 100 frames


def test_constant_rate_synthetic(cfr_video):
    info = probe(cfr_video)
    assert info.frame_count == 90
    np.testing.assert_allclose(info.timestamps, np.arange(90) / 30, atol=1e-6)
    assert info.duration == pytest.approx(3.0, abs=1e-6)
    assert info.keyframes[0] == 0 and len(info.keyframes) == 4  # x264 puts them ~30 frames apart
    assert np.all(np.diff(info.keyframes) <= 30)
    assert (info.width, info.height, info.rotation) == (128, 96, 0)
    assert info.has_audio and not info.variable_frame_rate


def test_variable_frame_rate_and_nonzero_start(vfr_video):
    info = probe(vfr_video)
    # the stream starts at 1.5 s in its own clock: the player's clock (and ours) starts there
    assert info.start_offset == pytest.approx(1.5)
    np.testing.assert_allclose(info.timestamps, VFR_TIMES, atol=1e-4)
    assert info.variable_frame_rate
    assert info.duration == pytest.approx(VFR_TIMES[-1] + np.median(np.diff(VFR_TIMES)), abs=1e-3)
    # the naive answer (frame index / nominal rate) misplaces frames by up to the hole
    naive = np.arange(info.frame_count) / info.nominal_fps
    assert np.max(np.abs(naive - info.timestamps)) > 0.1


def test_video_starting_after_audio(late_video):
    info = probe(late_video)
    assert info.timestamps[0] == pytest.approx(1.5, abs=1e-3)
    assert info.duration == pytest.approx(1.5 + 2.0, abs=1e-3)


def test_rotation_is_applied_to_displayed_size(rotated_video):
    info = probe(rotated_video)
    assert info.rotation == 90
    assert (info.width, info.height) == (96, 128)


def test_probe_is_cached_and_sees_rewrites(media):
    path = media / "rewrite.mp4"
    write_video(path, stamped_frames(10), fps=10)
    first = probe(path)
    assert probe(path) is first
    time.sleep(0.01)
    write_video(path, stamped_frames(20), fps=10)
    os.utime(path)
    assert probe(path).frame_count == 20


def test_to_dict_is_json(cfr_video):
    d = probe(cfr_video).to_dict(timestamps=True)
    assert json.loads(json.dumps(d))["frame_count"] == 90
    assert len(d["frame_timestamps"]) == 90 and d["keyframe_times"][0] == 0.0


def test_truncated_file_reports_what_is_left(truncated_video):
    info = probe(truncated_video)
    assert info.truncated
    assert info.declared_duration == pytest.approx(5.0)
    assert 1.0 < info.duration < 4.0


@pytest.mark.parametrize(
    ("fixture", "error", "message"),
    [
        ("empty_file", NotAVideoError, "empty file"),
        ("not_a_video", NotAVideoError, "not a readable media file"),
        ("audio_only", NotAVideoError, "no video stream (streams: audio)"),
    ],
)
def test_bad_files(request, fixture, error, message):
    path = request.getfixturevalue(fixture)
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")) as e:
        probe(path)
    assert str(path) in str(e.value)


def test_missing_and_non_regular(tmp_path):
    with pytest.raises(VideoNotFoundError, match="no such file"):
        probe(tmp_path / "missing.mp4")
    with pytest.raises(VideoNotFoundError, match="not a regular file"):
        probe(tmp_path)
    fifo = tmp_path / "pipe.mp4"
    os.mkfifo(fifo)
    with pytest.raises(VideoNotFoundError, match="not a regular file"):  # FFmpeg would block on it
        probe(fifo)
