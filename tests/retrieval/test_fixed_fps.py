"""``Budgets.fixed_fps``: the fixed-density ablation serves the window asked for at one density."""

from __future__ import annotations

import pytest

from framescope.errors import ConfigError
from framescope.retrieval.grammar import Accepted, Budgets, Rejected, Used, parse_request, validate


def test_the_window_is_the_models_the_density_is_fixed() -> None:
    request = parse_request("<span>2.00 - 4.00</span><fps>10</fps>")
    own = validate(request, 20.0, Budgets(), Used())
    fixed = validate(request, 20.0, Budgets(fixed_fps=2.0), Used())
    assert isinstance(own, Accepted) and isinstance(fixed, Accepted)
    assert own.fps == 10.0 and fixed.fps == 2.0 and fixed.window == own.window
    assert any("fixed at 2 fps (asked 10)" in n for n in fixed.notes)
    # a malformed request is still refused
    bad = validate(
        parse_request("<span>4 - 2</span><fps>1</fps>"), 20.0, Budgets(fixed_fps=2.0), Used()
    )
    assert isinstance(bad, Rejected)


def test_fixed_fps_within_the_ceiling() -> None:
    with pytest.raises(ConfigError):
        Budgets(fixed_fps=0.0)
    with pytest.raises(ConfigError):
        Budgets(max_fps=4.0, fixed_fps=8.0)
