"""Atomic file writes: a reader sees the old file or the new one, never half of either."""

from __future__ import annotations

import functools
import io
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from PIL import Image

from framescope.errors import FramescopeError


@functools.cache
def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def publish(tmp: str | os.PathLike[str], path: str | os.PathLike[str]) -> None:
    """Give a finished temporary file the mode a plain ``open`` would have (``mkstemp`` makes
    files private) and rename it over ``path`` in one step."""
    os.chmod(tmp, 0o666 & ~_umask())
    os.replace(tmp, path)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path``, fsync it, then rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        publish(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def write_png(path: str | os.PathLike[str], image: Image.Image) -> Path:
    """Atomically write a PIL image as PNG."""
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return atomic_write_bytes(path, buf.getvalue())


def check_output_folder(path: str | os.PathLike[str], overwrite: bool = False) -> Path:
    """Refuse ``path`` as an output folder when it is a file, or a non-empty folder (old and new
    results would mix) unless ``overwrite``; changes nothing (check before the work)."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise FramescopeError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise FramescopeError(
            f"{out} is not empty: choose another folder, or pass --overwrite to replace it"
        )
    return out


def output_folder(path: str | os.PathLike[str], overwrite: bool = False) -> Path:
    """``path`` as an empty output folder (:func:`check_output_folder`; ``overwrite`` clears a
    non-empty one): made when missing."""
    out = check_output_folder(path, overwrite)
    if out.is_dir() and any(out.iterdir()):
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    return out


def write_json(path: str | os.PathLike[str], obj: Any, indent: int | None = 2) -> Path:
    """Atomically write ``obj`` as UTF-8 JSON (NaN and infinity are refused: they are not JSON)."""
    return atomic_write_text(
        path, json.dumps(obj, indent=indent, ensure_ascii=False, allow_nan=False) + "\n"
    )
