from __future__ import annotations

import os
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from framescope.errors import CorruptVideoError, SamplingError
from framescope.video.cache import FrameCache
from framescope.video.decode import PyAVDecoder, decode, decode_indices, plan_runs, select_frames
from framescope.video.encode import read_index
from framescope.video.probe import probe

from .conftest import REAL_CLIPS, VFR_TIMES, all_frames


def _indices(clip) -> list[int]:
    return [read_index(f) for f in clip.frames]


@pytest.mark.parametrize("name", [c[0] for c in REAL_CLIPS])
def test_real_clips_pixel_exact(real_videos, name):
    """Random frames decoded by seeking equal the same frames of a plain sequential decode."""
    path = real_videos / name
    info = probe(path)
    _, reference = all_frames(path)
    rng = np.random.default_rng(len(name))
    wanted = sorted(rng.choice(info.frame_count, size=10, replace=False).tolist())
    clip = decode(path, [float(info.timestamps[i]) for i in wanted], cache=FrameCache(0))
    assert clip.timestamps == tuple(float(info.timestamps[i]) for i in wanted)
    for frame, i in zip(clip.frames, wanted):
        np.testing.assert_array_equal(frame, reference[i])


def test_nearest_frame_by_pixels(cfr_video):
    times = [0.0, 0.01, 0.02, 1.49, 1.51, 2.999, 0.5]
    clip = decode(cfr_video, times, cache=FrameCache(0))
    # frame k is shown at k/30 s; the nearest one is round(t * 30), and the pixels say which it is
    expected = [min(round(t * 30), 89) for t in times]  # frames 0..89
    assert _indices(clip) == expected
    assert clip.timestamps == pytest.approx([i / 30 for i in expected])
    assert clip.frames.shape == (7, 96, 128, 3) and clip.frames.dtype == np.uint8


def test_order_and_duplicates_are_kept(long_gop_video):
    times = [15.0, 1.0, 15.0, 7.96]
    clip = decode(long_gop_video, times, cache=FrameCache(0))
    assert _indices(clip) == [375, 25, 375, 199]


def test_variable_frame_rate_by_pixels(vfr_video):
    clip = decode(vfr_video, VFR_TIMES, cache=FrameCache(0))
    assert _indices(clip) == list(range(40))
    np.testing.assert_allclose(clip.timestamps, VFR_TIMES, atol=1e-4)


def test_tolerance_rejects_frames_too_far(vfr_video):
    hole = (VFR_TIMES[19] + VFR_TIMES[20]) / 2  # in the 0.3 s gap: nearest frame is ~0.17 s away
    with pytest.raises(SamplingError, match=r"no frame within 0\.050 s"):
        decode(vfr_video, [hole], tolerance=0.05)
    assert len(decode(vfr_video, [hole], tolerance=0.2)) == 1


def test_tolerance_prefers_a_keyframe_when_it_saves_decoding(long_gop_video):
    info = probe(long_gop_video)
    key = float(info.keyframe_times[2])
    # 1.8 s after a keyframe: the nearest frame needs 45 frames of decoding, the keyframe one
    t = key + 1.8
    later_key = next(k for k in info.keyframe_times if k > t)
    assert decode(long_gop_video, [t], cache=FrameCache(0)).timestamps == (
        pytest.approx(t, abs=0.02),
    )
    near_key = later_key - 0.3
    clip = decode(long_gop_video, [near_key], tolerance=0.5, cache=FrameCache(0))
    assert clip.timestamps == (pytest.approx(later_key),)
    assert _indices(clip) == [info.keyframes[list(info.keyframe_times).index(later_key)]]
    # a dense window stays on the requested frames: forward decoding reaches them anyway
    dense = [key + 0.04 * k for k in range(10)]
    assert decode(long_gop_video, dense, tolerance=0.02).timestamps == pytest.approx(dense)


def test_plan_runs_one_seek_per_reachable_stretch(long_gop_video):
    info = probe(long_gop_video)
    keys = info.keyframes.tolist()
    window = list(range(keys[1] + 5, keys[2] + 30))  # spans a keyframe: still one run
    runs = plan_runs(info, window)
    assert runs == [(keys[1], window)]
    sparse = [keys[0] + 3, keys[3] + 3]  # far apart: two runs, each from its own keyframe
    assert plan_runs(info, sparse) == [(keys[0], [sparse[0]]), (keys[3], [sparse[1]])]
    assert plan_runs(info, [keys[2] + 1, keys[2] + 1, keys[2]]) == [
        (keys[2], [keys[2], keys[2] + 1])
    ]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 3.0, allow_nan=False), min_size=1, max_size=12))
def test_select_frames_is_the_nearest_frame(cfr_video, times):
    info = probe(cfr_video)
    for t, i in zip(times, select_frames(info, times)):
        assert abs(info.timestamps[i] - t) == pytest.approx(np.min(np.abs(info.timestamps - t)))


def test_resize_in_the_decoder(cfr_video):
    clip = decode(cfr_video, [1.0], size=(64, 48), cache=FrameCache(0))
    assert clip.frames.shape == (1, 48, 64, 3)
    assert read_index(clip.frames[0]) == 30


def test_rotation_applied(rotated_video):
    clip = decode(rotated_video, [0.3], cache=FrameCache(0))
    assert clip.frames.shape == (1, 128, 96, 3)
    # the display rotation is counter-clockwise: turning back clockwise restores the coded frame
    assert read_index(np.rot90(clip.frames[0], k=-1)) == 3
    resized = decode(rotated_video, [0.3], size=(48, 64), cache=FrameCache(0))
    assert resized.frames.shape == (1, 64, 48, 3)


def test_truncated_prefix_decodes_and_the_rest_names_the_time(truncated_video):
    info = probe(truncated_video)
    clip = decode(truncated_video, [0.5, 1.0], cache=FrameCache(0))
    assert _indices(clip) == [15, 30]
    with pytest.raises(
        CorruptVideoError, match=r"cannot decode 4\.500 s: the file is truncated"
    ) as e:
        decode(truncated_video, [0.5, 4.5], cache=FrameCache(0))
    assert e.value.time == pytest.approx(4.5)
    # the last listed frame is only partly in the file: a clear error that names its time
    last = float(info.timestamps[-1])
    with pytest.raises(CorruptVideoError, match=f"{last:.3f} s") as e:
        decode(truncated_video, [last], cache=FrameCache(0))
    assert e.value.time == pytest.approx(last)


@pytest.mark.parametrize("bad", [[-0.5], [3.5], [float("nan")], [float("inf")]])
def test_times_outside_or_not_finite(cfr_video, bad):
    with pytest.raises(SamplingError):
        decode(cfr_video, bad)


def test_cache_serves_repeats(cfr_video):
    cache = FrameCache()
    first = decode(cfr_video, [0.5, 1.0, 1.5], cache=cache)
    assert cache.stats.misses == 3 and cache.stats.hits == 0
    again = decode(cfr_video, [1.0, 1.5, 2.0], cache=cache)
    assert cache.stats.hits == 2 and cache.stats.misses == 4
    np.testing.assert_array_equal(first.frames[1:], again.frames[:2])
    # sizes are separate entries
    decode(cfr_video, [1.0], size=(64, 48), cache=cache)
    assert cache.stats.misses == 5


def test_cache_never_serves_a_rewritten_file(media):
    from framescope.video.encode import write_video

    from .conftest import stamped_frames

    path = media / "rewritten.mp4"
    cache = FrameCache()
    write_video(path, stamped_frames(10), fps=10)
    assert _indices(decode(path, [0.5], cache=cache)) == [5]
    write_video(path, (f for k, f in enumerate(stamped_frames(30)) if k >= 20), fps=10)  # frames 20..29
    os.utime(path, ns=(1, 1))  # a different mtime even on a coarse clock
    assert _indices(decode(path, [0.5], cache=cache)) == [25]


def test_cache_is_bounded_in_bytes():
    cache = FrameCache(max_bytes=3 * 100)
    for k in range(5):
        cache.put(k, np.zeros(100, np.uint8))
    assert len(cache) == 3 and cache.nbytes == 300 and cache.stats.evictions == 2
    assert cache.get(0) is None and cache.get(4) is not None
    cache.put("big", np.zeros(1000, np.uint8))  # larger than the whole budget: not stored
    assert cache.get("big") is None and cache.nbytes == 300
    assert not cache.get(4).flags.writeable  # cached frames cannot be changed under other readers


def test_threads_share_one_cache(long_gop_video):
    cache = FrameCache()
    info = probe(long_gop_video)
    expected = list(range(0, 500, 37))
    results: list[list[int]] = []
    errors: list[BaseException] = []

    def work(offset: int) -> None:
        try:
            order = expected[offset:] + expected[:offset]
            frames = decode_indices(info, order, cache=cache, decoder=PyAVDecoder())
            results.append([read_index(f) for f in frames] == order)
        except BaseException as e:  # surfaced below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and results == [True] * 4
    assert len(cache) == len(expected)


@pytest.mark.parametrize("backend", ["decord", "torchcodec"])
def test_optional_backends_agree(backend, long_gop_video, rotated_video, truncated_video):
    pytest.importorskip(backend)
    for path, times in [(long_gop_video, [0.0, 3.3, 12.0, 19.9]), (rotated_video, [0.0, 0.5])]:
        a = decode(path, times, cache=FrameCache(0))
        b = decode(path, times, cache=FrameCache(0), decoder=backend)
        assert a.timestamps == b.timestamps
        np.testing.assert_array_equal(a.frames, b.frames)
        small = decode(path, times, size=(48, 64), cache=FrameCache(0), decoder=backend)
        assert small.frames.shape == (len(times), 64, 48, 3)
        upright = (lambda f: f) if path == long_gop_video else (lambda f: np.rot90(f, -1))
        assert [read_index(upright(f)) for f in small.frames] == [read_index(upright(f)) for f in a.frames]
    # on a cut file decord fails outright; torchcodec decodes the prefix; past the cut both raise typed errors
    if backend == "torchcodec":
        assert _indices(decode(truncated_video, [0.5], cache=FrameCache(0), decoder=backend)) == [15]
    last = float(probe(truncated_video).timestamps[-1])
    with pytest.raises(CorruptVideoError, match=f"{backend} failed"):
        decode(truncated_video, [0.5 if backend == "decord" else last], cache=FrameCache(0), decoder=backend)
