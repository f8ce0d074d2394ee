from __future__ import annotations

import math

import numpy as np
import pytest

from framescope.errors import CorruptVideoError, SamplingError
from framescope.types import Window
from framescope.video.cache import FrameCache
from framescope.video.encode import read_index, write_video
from framescope.video.probe import probe
from framescope.video.sampling import PixelBudget, frame_count, sample, smart_resize

from .conftest import stamped_frames


def _count(duration, fps=None, num_frames=None, available=10_000, min_frames=2, max_frames=768):
    return frame_count(
        duration,
        fps=fps,
        num_frames=num_frames,
        available=available,
        min_frames=min_frames,
        max_frames=max_frames,
    )[0]


def test_frame_count_rules():
    assert _count(10, fps=2) == 20
    assert _count(4.0, fps=2) == 8
    assert _count(3.3, fps=1) == 4  # 3.3 -> rounded to the temporal patch (2)
    assert _count(10, fps=0.25) == 2  # fractional fps: 2.5 frames -> 2
    assert _count(1, fps=0.1) == 2  # never fewer than one patch
    assert _count(100, fps=2, max_frames=129) == 128  # cap rounded down to the patch
    assert _count(2, fps=1, min_frames=5) == 6  # floor rounded up to the patch
    assert _count(10, num_frames=7) == 8
    assert _count(10, fps=30, available=15) == 14  # never more than the window holds
    assert _count(10, fps=30, available=1) == 2  # a single frame still fills one patch
    n, notes = frame_count(
        100, fps=2, num_frames=None, available=10_000, min_frames=2, max_frames=128
    )
    assert n == 128 and notes == ["frame count capped at max_frames=128 (asked 200)"]


@pytest.mark.parametrize(
    ("h", "w", "factor", "lo", "hi", "expected"),
    [
        (
            1080,
            1920,
            28,
            128 * 28 * 28,
            768 * 28 * 28,
            (560, 1008),
        ),  # beta 1.856: floor(20.8), floor(37.0)
        (
            96,
            128,
            28,
            128 * 28 * 28,
            768 * 28 * 28,
            (280, 392),
        ),  # beta 2.858: ceil(9.8), ceil(13.1)
        (360, 640, 28, 1, 10**9, (364, 644)),  # only rounded to multiples of 28
        (1080, 1920, 32, 128 * 32 * 32, 768 * 32 * 32, (640, 1152)),  # Qwen3-VL, beta 1.624
    ],
)
def test_smart_resize_hand_computed(h, w, factor, lo, hi, expected):
    out = smart_resize(h, w, factor, lo, hi)
    assert out == expected
    assert out[0] % factor == 0 and out[1] % factor == 0 and lo <= out[0] * out[1] <= hi


def test_smart_resize_keeps_aspect_and_rejects_slivers():
    h, w = smart_resize(4320, 7680, 28, 128 * 784, 768 * 784)
    assert abs(w / h - 7680 / 4320) < 0.1
    with pytest.raises(SamplingError, match="aspect ratio"):
        smart_resize(10, 3000, 28, 1, 10**9)


def test_budget_presets_and_total_pixels():
    assert PixelBudget.for_family("qwen3_vl").factor == 32
    assert PixelBudget.for_family("qwen2_vl") == PixelBudget()
    with pytest.raises(SamplingError, match="unknown model family"):
        PixelBudget.for_family("llava")
    total = PixelBudget(total_pixels=20 * 768 * 784)
    assert total.frame_max_pixels(10) == 768 * 784  # room for full frames
    assert total.frame_max_pixels(200) == 120422  # 20 * 768 * 784 / 200 * 2
    assert total.frame_max_pixels(400) == int(128 * 784 * 1.05)  # never below 1.05 x the minimum


def test_window_at_density_by_pixels(long_gop_video):
    clip = sample(long_gop_video, Window(6.5, 10.5), fps=2, budget=None, cache=FrameCache(0))
    assert len(clip) == 8 and clip.window == Window(6.5, 10.5) and clip.notes == ()
    idx = [read_index(f) for f in clip.frames]
    assert idx == sorted(idx) and all(6.5 <= i / 25 <= 10.5 for i in idx)
    # evenly spread from the first to the last frame in the window, as Qwen's sampler does
    expected = np.linspace(6.52, 10.48, 8)
    np.testing.assert_allclose(clip.timestamps, expected, atol=0.5 / 2)
    assert clip.timestamps == pytest.approx([i / 25 for i in idx])


def test_exact_takes_the_nearest_frames(long_gop_video):
    clip = sample(long_gop_video, num_frames=10, exact=True, budget=None, cache=FrameCache(0))
    points = np.linspace(0, 499 / 25, 10)
    assert [read_index(f) for f in clip.frames] == [round(p * 25) for p in points]


def test_uniform_overview_uses_keyframes_when_cheaper(long_gop_video):
    info = probe(long_gop_video)
    clip = sample(long_gop_video, num_frames=4, budget=None, cache=FrameCache(0))
    # points 0, 6.65, 13.31, 19.96 s on a ~4 s GOP: the middle two would cost 67 and 36 frames of
    # decoding and have a keyframe within half an interval; the last is only 4 frames after one
    keyset = set(info.keyframe_times.round(6))
    assert [round(t, 6) in keyset for t in clip.timestamps] == [True, True, True, False]
    # the reported time is the true time of the frame returned
    assert [read_index(f) for f in clip.frames] == [round(t * 25) for t in clip.timestamps]


def test_window_clamped_and_reported(cfr_video):
    clip = sample(cfr_video, Window(2.0, 9.0), fps=4, budget=None)
    assert clip.window == Window(2.0, 3.0)
    assert clip.notes == ("window 2.00–9.00 s clamped to 2.00–3.00 s (video is 3.00 s)",)
    assert len(clip) == 4 and all(2.0 <= t <= 3.0 for t in clip.timestamps)


def test_more_density_than_the_video_has(cfr_video):
    clip = sample(cfr_video, Window(1.0, 1.5), fps=200, budget=None)
    assert len(clip) == 16 and "window holds 16 frames" in clip.notes[0]  # frames 30..45
    assert len(set(clip.timestamps)) == 16


def test_window_between_two_frames_of_a_slow_video(real_videos):
    path = real_videos / "v_TpB_zMG3XBA.mp4"  # 3 fps MPEG-4
    clip = sample(path, Window(10.05, 10.25), fps=10, budget=None)
    # no frame inside: the one nearest the window's middle (10.0 s, not 10.33 s), twice (one patch)
    assert clip.timestamps == (10.0, 10.0)


@pytest.mark.parametrize("name", ["KBPDM.mp4", "v_rBMQFpHspmo.mp4", "OHOFG.mp4"])
def test_real_clips_budget_and_times(real_videos, name):
    path = real_videos / name
    info = probe(path)
    budget = PixelBudget.for_family("qwen3_vl")
    clip = sample(path, Window(1.0, 9.0), fps=1.5, budget=budget)
    h, w = clip.frames.shape[1:3]
    assert h % 32 == 0 and w % 32 == 0 and budget.min_pixels <= h * w <= budget.max_pixels
    assert len(clip) == 12 and all(1.0 <= t <= 9.0 for t in clip.timestamps)
    assert set(clip.timestamps) <= set(info.timestamps.tolist())


def test_enormous_resolution_gets_the_pixel_budget(media):
    path = write_video(media / "8k.mp4", stamped_frames(4, 4320, 7680), fps=2, preset="ultrafast")
    info = probe(path)
    assert (info.width, info.height) == (7680, 4320)
    clip = sample(path, num_frames=4)
    h, w = clip.frames.shape[1:3]
    assert h * w <= PixelBudget().max_pixels and h % 28 == 0 and w % 28 == 0
    assert [read_index(f) for f in clip.frames] == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window": Window(2.0, 1.0), "fps": 1}, "start 2.000 s is after its end 1.000 s"),
        ({"window": Window(1.0, 1.0), "fps": 1}, "is empty"),
        ({"window": Window(5.0, 9.0), "fps": 1}, "lies outside the video"),
        ({"window": Window(-3.0, -1.0), "fps": 1}, "lies outside the video"),
        ({"window": Window(float("nan"), 1.0), "fps": 1}, "must be finite"),
        ({"fps": 0}, "fps must be a number in"),
        ({"fps": -2}, "fps must be a number in"),
        ({"fps": float("nan")}, "fps must be a number in"),
        ({"fps": float("inf")}, "fps must be a number in"),
        ({"fps": 1e9}, "fps must be a number in"),
        ({"num_frames": 0}, "num_frames must be a positive integer"),
        ({"num_frames": 2.5}, "num_frames must be a positive integer"),
        ({}, "give exactly one of fps or num_frames"),
        ({"fps": 2, "num_frames": 4}, "give exactly one of fps or num_frames"),
        ({"fps": 2, "max_frames": 0}, "min_frames <= max_frames"),
    ],
)
def test_impossible_requests(cfr_video, kwargs, message):
    with pytest.raises(SamplingError, match=message.replace("(", r"\(")):
        sample(cfr_video, **kwargs)


def test_truncated_window_inside_the_prefix_works(truncated_video):
    clip = sample(truncated_video, Window(0.0, 1.5), fps=4, budget=None)
    assert [read_index(f) for f in clip.frames] == [round(t * 30) for t in clip.timestamps]
    with pytest.raises(CorruptVideoError):
        sample(truncated_video, fps=4, budget=None)  # the whole video reaches the cut


def test_sampling_is_repeatable_and_warm_from_cache(cfr_video):
    cache = FrameCache()
    a = sample(cfr_video, Window(0.5, 2.5), fps=3, cache=cache)
    misses = cache.stats.misses
    b = sample(cfr_video, Window(0.5, 2.5), fps=3, cache=cache)
    assert cache.stats.misses == misses and cache.stats.hits == len(b)
    assert a.timestamps == b.timestamps
    np.testing.assert_array_equal(a.frames, b.frames)
    assert math.isclose(a.window.duration, 2.0)
