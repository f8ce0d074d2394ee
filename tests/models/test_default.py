"""The model framescope ships: found without ``--model``, and — when installed — trained: it
answers a fixed synthetic question correctly (random weights cannot)."""

from __future__ import annotations

import pytest

from framescope.errors import ModelError
from framescope.models.default import default_checkpoint, default_root, resolve_model


def test_paths_and_methods() -> None:
    assert resolve_model("some/folder") == "some/folder"
    with pytest.raises(ModelError, match="no checkpoint for method"):
        default_checkpoint("planner")
    assert default_root().name == "default_model"
