"""The video layer: probe a file, decode exact frames, sample spans at a density."""

from framescope.video.cache import FrameCache, default_cache
from framescope.video.decode import decode
from framescope.video.probe import VideoInfo, probe
from framescope.video.sampling import PixelBudget, sample, smart_resize

__all__ = [
    "FrameCache",
    "PixelBudget",
    "VideoInfo",
    "decode",
    "default_cache",
    "probe",
    "sample",
    "smart_resize",
]
