"""A decoded-frame LRU cache bounded in bytes, safe to share between threads.

A Verifier zooming into a candidate, or a model re-retrieving a window it has seen, asks for frames
that were already decoded; with the cache they cost a dictionary lookup instead of a seek and half
a GOP of decoding. Keys name the file version (real path, mtime, size), the frame's presentation
time in stream units and the output size, so a file rewritten in place never serves stale frames.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np

DEFAULT_CACHE_BYTES = 1 << 30  # 1 GiB: ~2,400 frames at 448x448, ~360 at 720p


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    evictions: int = 0


class FrameCache:
    """LRU of decoded frames; ``max_bytes=0`` disables caching."""

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes must be >= 0")
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.stats = CacheStats()

    def __len__(self) -> int:
        return len(self._items)

    @property
    def nbytes(self) -> int:
        return self._bytes

    def get(self, key: Hashable) -> np.ndarray | None:
        with self._lock:
            frame = self._items.get(key)
            if frame is None:
                self.stats.misses += 1
                return None
            self._items.move_to_end(key)
            self.stats.hits += 1
            return frame

    def put(self, key: Hashable, frame: np.ndarray) -> None:
        """Store a frame (read-only from now on); frames larger than the whole budget are skipped."""
        size = frame.nbytes
        if size > self.max_bytes:
            return
        frame.flags.writeable = False
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            self._items[key] = frame
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, evicted = self._items.popitem(last=False)
                self._bytes -= evicted.nbytes
                self.stats.evictions += 1

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0
            self.stats = CacheStats()


_default = FrameCache()


def default_cache() -> FrameCache:
    """The process-wide cache used when a caller passes none."""
    return _default
