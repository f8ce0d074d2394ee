"""Typed exceptions. Library code raises these; the CLI turns them into one line and exit code 1."""

from __future__ import annotations


class FramescopeError(Exception):
    """Base class of every error framescope raises on purpose."""


class VideoError(FramescopeError):
    """A video could not be read as asked. ``path`` names the file."""

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


class VideoNotFoundError(VideoError, FileNotFoundError):
    """The path does not exist or is not a regular file."""


class NotAVideoError(VideoError):
    """The file is empty, not a media container, or has no video stream."""


class CorruptVideoError(VideoError):
    """Part of the video cannot be decoded; ``time`` is the first requested time that failed."""

    def __init__(self, message: str, path: str | None = None, time: float | None = None) -> None:
        super().__init__(message, path)
        self.time = time


class SamplingError(FramescopeError, ValueError):
    """A sampling request is impossible: empty or reversed window, bad fps or frame count."""


class ModelError(FramescopeError):
    """A model, processor or checkpoint cannot be built, found or loaded as asked."""


class EvalError(FramescopeError):
    """An evaluation cannot be scored as asked (unknown benchmark, unsupported variant, no samples)."""


class AnnotationError(EvalError, ValueError):
    """A benchmark or prediction file is malformed; ``path`` and ``line`` (1-based) say where."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None) -> None:
        where = f"{path}:{line}" if path and line else path
        super().__init__(f"{where}: {message}" if where else message)
        self.path = path
        self.line = line


class PredictionError(AnnotationError):
    """A predictions file is malformed or does not cover the benchmark as its official script requires."""


class MissingFileError(EvalError, FileNotFoundError):
    """A file a benchmark needs is absent; the message says which file is expected where."""


class RecordError(AnnotationError):
    """A training-record file (DM-CoT, DM-RL, VideoMind role data) is malformed or missing;
    ``path`` and ``line`` (1-based) say where, the message says what."""


class ConfigError(FramescopeError, ValueError):
    """A training config is malformed: unknown key, wrong type, impossible value, bad override."""
