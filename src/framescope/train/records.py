"""The records a recipe trains on, read from ``data.files`` with the place each came from.

Files are relative to the data root (``data.root``, else ``$FRAMESCOPE_DATA``). Every record keeps
its ``file:line``, so a row that only turns out bad when its sequence is built (its video is
missing, a request lies outside the video) is reported where it is written. With
``data.skip_bad_rows`` the rows the readers skipped are listed in :attr:`Records.skipped`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from framescope.data import read_dm_cot, read_dm_rl, read_grounder, read_planner, read_verifier
from framescope.data.rows import data_root, resolve_path
from framescope.errors import ConfigError
from framescope.train.config import TrainConfig

READERS: dict[str, Callable[..., Any]] = {
    "dm_cot": read_dm_cot,
    "dm_rl": read_dm_rl,
    "grounder": read_grounder,
    "verifier": read_verifier,
    "planner": read_planner,
}


@dataclass
class Records:
    """Training records, where each one is written (``(file, line)``), and skipped-row reports."""

    items: list[Any]
    where: list[tuple[str, int]]
    skipped: list[str] = field(default_factory=list)


def load_records(cfg: TrainConfig) -> Records:
    """Every record of ``data.files`` (then ``data.verifier_files``), at most ``data.max_rows``."""
    root = data_root(cfg.data.root)
    reader = READERS.get(cfg.data.format)
    if reader is None:
        raise ConfigError(f"no reader for data.format {cfg.data.format}")
    out = Records([], [])
    for name in cfg.data.files:
        path = resolve_path(name, root)
        loaded = reader(path, data_root=root, skip_bad_rows=cfg.data.skip_bad_rows)
        out.items += loaded.records
        out.where += [(str(path), line) for line in loaded.lines]
        if loaded.skipped:
            out.skipped.append(loaded.report())
    for name in cfg.data.verifier_files:  # a shared grounder + verifier adapter
        path = resolve_path(name, root)
        loaded = read_verifier(path, data_root=root, skip_bad_rows=cfg.data.skip_bad_rows)
        out.items += loaded.records
        out.where += [(str(path), line) for line in loaded.lines]
        if loaded.skipped:
            out.skipped.append(loaded.report())
    limit = cfg.data.max_rows
    return Records(out.items[:limit], out.where[:limit], out.skipped)
