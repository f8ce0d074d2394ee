"""The settings of one ``framescope eval`` run: the benchmark and its files, the output folder,
and the nested inference settings of :mod:`framescope.settings` (the checkpoint, the run, the
agent). Saved as ``config.yaml`` in the output folder; ``framescope eval --config`` reads it back
and the command line's flags (generated from these fields) go on top."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from framescope import config as cfgs
from framescope.config import option, require, section
from framescope.errors import ConfigError
from framescope.settings import AgentConfig, BackendConfig, InferConfig

COMPAT = ("lmms-eval", "videomind")
# the re-implementations --compat reproduces, at the versions read
COMPAT_HELP = (
    "score as a re-implementation does: lmms-eval (release v0.7.2, cb45ac4) or videomind "
    "(VideoMind 6721d25, videomind/eval/eval_auto.py and eval_qvhighlights.py)"
)
CONFIG_FILE = "config.yaml"

# settings a resumed run must share with the records already written (dotted keys); the batch
# size and the output settings may change between runs
IDENTITY_SECTIONS = ("benchmark", "method", "backend", "infer", "agent")
MAY_CHANGE = ("backend.device", "backend.attn", "infer.batch_size")


@dataclass
class EvalConfig:
    """Everything one evaluation run is made of (see the module docstring)."""

    benchmark: str = option("", "benchmark name (framescope score --help lists them)")
    data_root: str = option("", "folder holding the benchmark's files as its release ships them")
    method: str = option("dynframe", "inference method: direct, dynframe, videomind or another")
    out: str | None = option(None, "output folder (default: eval_<benchmark>_<method>)")
    video_dir: str | None = option(None, "video folder, instead of the layout's under data_root")
    compat: str | None = option(None, COMPAT_HELP, COMPAT)
    conf_thr: float = option(-1.0, "VideoMind's --conf_thr (CG-Bench with --compat videomind)")
    limit: int | None = option(
        None, "run only N samples, spread evenly over the benchmark (every k-th: all its tasks)"
    )
    retry_failed: bool = option(False, "rerun samples whose record is a failure")
    plots: int = option(12, "timeline plots in the report")
    backend: BackendConfig = section(BackendConfig, "the checkpoint and the device")
    infer: InferConfig = section(InferConfig, "the inference run")
    agent: AgentConfig = section(AgentConfig, "VideoMind's roles (method videomind)")

    def __post_init__(self) -> None:
        require(bool(self.benchmark), "benchmark is required")
        require(bool(self.data_root), "data_root is required")
        require(self.limit is None or self.limit >= 1, "limit must be >= 1")
        require(self.plots >= 0, "plots must be >= 0")

    @property
    def out_dir(self) -> Path:
        return Path(self.out or f"eval_{self.benchmark}_{self.method}")

    def to_dict(self) -> dict[str, Any]:
        return cfgs.to_data(self)

    def identity(self) -> dict[str, Any]:
        """The dotted settings a resumed run must share (:data:`IDENTITY_SECTIONS`)."""
        flat = cfgs.flatten({k: v for k, v in self.to_dict().items() if k in IDENTITY_SECTIONS})
        return {k: v for k, v in flat.items() if k not in MAY_CHANGE}

    def resolved(self) -> EvalConfig:
        """This config with its paths absolute (the saved config and the resume check use
        these; ``default`` stays the name of the shipped model)."""

        def absolute(path: str | None) -> str | None:
            return str(Path(path).resolve()) if path else None

        model = self.backend.model
        backend = dataclasses.replace(
            self.backend, model=model if model == "default" else str(absolute(model))
        )
        return dataclasses.replace(
            self,
            data_root=str(absolute(self.data_root)),
            video_dir=absolute(self.video_dir),
            out=str(self.out_dir.resolve()),
            backend=backend,
        )

    def save(self, out: Path) -> Path:
        header = "framescope eval: the resolved run settings (framescope eval --config reads them)"
        return cfgs.save(self, out / CONFIG_FILE, header)


def eval_config(data: dict[str, Any]) -> EvalConfig:
    """An :class:`EvalConfig` from plain data (nested sections), types checked."""
    return cfgs.build(EvalConfig, data)


def load_eval_config(
    path: str | os.PathLike[str], given: dict[str, Any] | None = None
) -> EvalConfig:
    """An :class:`EvalConfig` from a YAML file with ``given`` values (nested data, e.g. from the
    command line) on top; unknown keys and wrong types fail with a one-line ConfigError naming
    the file."""
    data = cfgs.merge(cfgs.read_yaml(path), given or {})
    try:
        return eval_config(data)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
