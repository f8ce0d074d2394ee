"""The model framescope ships: trained by framescope on its synthetic world, used when no model is named.

``framescope demo``, ``framescope infer`` and ``framescope eval`` without ``--model`` (or with
``--model default``) load the checkpoints under ``framescope/default_model/`` (package data, so a
non-editable install has them too):

    default_model/
      MODEL_CARD.md      what it was trained on, its measured numbers, what it does not know
      settings.json      the inference settings it was trained for (overview density, …)
      dynframe/          a Qwen3-VL checkpoint (transformers folder): the DynFrame model
      videomind/         a VideoMind checkpoint: grounder + verifier adapters, timestamp head,
        base/            and the Qwen2.5-VL base they sit on (base_model_path "base")

Both were trained from scratch by the reproduction (``scripts/reproduce.py``,
``docs/reproduction.md``). They know only the synthetic world: coloured shapes that appear,
disappear, move, change colour and blink, asked about in the world's prompts.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from framescope.errors import ModelError

DEFAULT = "default"
# the method each shipped checkpoint runs; ``direct`` is the DynFrame model without retrieval
CHECKPOINTS = {"dynframe": "dynframe", "direct": "dynframe", "videomind": "videomind"}


def default_root() -> Path:
    """The folder of the shipped checkpoints (inside the installed package)."""
    return Path(str(resources.files("framescope") / "default_model"))


def default_checkpoint(method: str = "dynframe") -> Path:
    """The shipped checkpoint folder that runs ``method`` (``dynframe``, ``direct`` or
    ``videomind``); :class:`ModelError` when this install has none."""
    if method not in CHECKPOINTS:
        raise ModelError(
            f"the default model has no checkpoint for method {method!r}; it runs "
            f"{', '.join(CHECKPOINTS)} (name a checkpoint with --model PATH)"
        )
    folder = default_root() / CHECKPOINTS[method]
    if not (folder / "config.json").is_file():
        raise ModelError(
            f"{folder}: the default model is not installed (no config.json); name a checkpoint "
            "with --model PATH"
        )
    return folder


def resolve_model(model: str | None, method: str = "dynframe") -> str:
    """``model`` as a checkpoint folder: ``None`` or ``"default"`` name the shipped checkpoint
    for ``method``; anything else is returned unchanged."""
    if model is None or model == DEFAULT:
        return str(default_checkpoint(method))
    return model


def default_infer_data() -> dict[str, Any]:
    """:func:`default_settings` as nested settings data (the ``infer`` section), to put under
    what a caller gives (``framescope.config.merge``)."""
    return {"infer": default_settings()} if default_settings() else {}


def default_settings() -> dict[str, Any]:
    """The inference settings the shipped checkpoints were trained for (``settings.json``:
    ``overview_fps``, ``overview_max_frames``, ``max_new_tokens``); a caller's explicit
    settings win over them."""
    path = default_root() / "settings.json"
    if not path.is_file():
        return {}
    settings: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return settings
