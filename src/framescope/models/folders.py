"""What a model folder is, read without loading anything (torch-free, so that the command line
checks its arguments in milliseconds before a model is loaded).

A model is a local checkpoint folder with a ``config.json`` whose ``model_type`` names the
loader; ``"default"`` names the model shipped with the package (:mod:`framescope.models.default`
resolves it per method).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from framescope.errors import ModelError
from framescope.models.default import resolve_model

VIDEOMIND_TYPE = "agent_qwen2_vl"  # VideoMind's released folders
GET_VIDEOMIND = (
    "a VideoMind checkpoint is a folder in the release's layout (config.json model_type "
    f"{VIDEOMIND_TYPE}: base model + grounder/verifier/planner adapters + the timestamp head): "
    "download VideoMind-2B/7B from its authors, or train one with "
    "`framescope train sft --config configs/videomind_grounder.yaml` (and _verifier, _planner; "
    "docs/training.md)"
)


def model_folder(path: str | os.PathLike[str]) -> Path:
    """The checkpoint folder ``path`` names (``"default"``: the shipped DynFrame model);
    :class:`ModelError` when there is none."""
    folder = Path(resolve_model(str(path)))
    if not folder.exists():
        raise ModelError(f"{folder}: no such model folder")
    if not folder.is_dir():
        raise ModelError(
            f"{folder}: not a folder (a model is a checkpoint folder with config.json)"
        )
    return folder


def model_type(path: str | os.PathLike[str]) -> str:
    """``config.json``'s ``model_type`` of the checkpoint folder ``path``."""
    config = model_folder(path) / "config.json"
    if not config.is_file():
        raise ModelError(f"{config.parent}: no config.json (not a transformers checkpoint folder)")
    try:
        kind = json.loads(config.read_text(encoding="utf-8")).get("model_type")
    except (ValueError, AttributeError) as e:
        raise ModelError(f"{config}: not a readable JSON config ({e})") from e
    if not isinstance(kind, str):
        raise ModelError(f"{config}: no model_type")
    return kind


def check_method(path: str | os.PathLike[str], method: str) -> str:
    """The checkpoint folder that runs ``method`` (``"default"``: the shipped one for it);
    refuses, before loading, a folder that is no checkpoint or cannot run ``method``
    (VideoMind's roles)."""
    path = resolve_model(str(path), method)
    kind = model_type(path)
    if method == "videomind" and kind != VIDEOMIND_TYPE:
        raise ModelError(
            f"{path}: --method videomind needs a VideoMind checkpoint, not a plain {kind!r} "
            f"model; {GET_VIDEOMIND}"
        )
    return path
