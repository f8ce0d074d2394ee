"""The agent loop: any subset of roles runs the route that fits (and says so), each role is one
batched call over the samples, the trace records every role call, errors stay per sample."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from framescope.agent.agent import VideoMindAgent
from framescope.errors import ConfigError, ModelError
from framescope.methods import METHODS, InferConfig, Sample, get_method
from framescope.models.hf import load_backend
from framescope.settings import AgentConfig
from framescope.types import Trace

from .conftest import FAST

CONFIG = InferConfig(max_new_tokens=2)


def roles_of(trace: Trace) -> list[str]:
    return list(dict.fromkeys(s.role for s in trace.steps if s.role))


@pytest.mark.parametrize(
    ("roles", "planner", "route", "want", "note"),
    [
        (["grounder"], False, None, ["grounder", "answerer"], "grounder → answerer"),
        (["grounder"], False, ("grounder", "verifier"), ["grounder"], ": grounder"),
        (["grounder", "verifier"], False, None, ["grounder", "verifier", "answerer"], None),
        (["verifier"], False, None, ["answerer"], ": answerer"),
        (["planner", "grounder"], True, None, ["planner", "grounder", "answerer"], "grounder →"),
        (["planner"], True, None, ["planner", "answerer"], ": answerer"),
    ],
)
def test_subsets_of_roles_run_the_route_that_fits(
    ckpts: Any,
    video: tuple,
    roles: list[str],
    planner: bool,
    route: tuple | None,
    want: list[str],
    note: str | None,
) -> None:
    backend = load_backend(ckpts.released.ckpt, roles=roles)
    assert set(backend.videomind.roles.names) == set(roles)
    agent = replace(FAST, planner=planner, force_reg=True)
    if route:
        agent = replace(agent, route=route)
    (trace,) = VideoMindAgent(agent).run(backend, [Sample("a", str(video[0]), "q")], CONFIG)
    assert trace.error is None and roles_of(trace) == want
    first = trace.steps[0].reason
    if note is None:
        assert first is None
    else:  # the fitted route is recorded on the first step
        assert first is not None and "fitted to the loaded roles" in first and note in first
    if "grounder" in want and "verifier" not in want:  # candidates without verifying
        grounder = next(s for s in trace.steps if s.role == "grounder")
        assert list(trace.answer.windows) == grounder.candidates
        assert list(trace.answer.scores) == grounder.scores


def test_route_with_nothing_to_run_is_an_error(ckpts: Any, video: tuple) -> None:
    backend = load_backend(ckpts.released.ckpt, roles=["verifier"])
    agent = VideoMindAgent(replace(FAST, route=("grounder", "verifier")))
    (trace,) = agent.run(backend, [Sample("a", str(video[0]), "q")], CONFIG)
    assert trace.error is not None and "nothing" in trace.error and trace.steps == []
    with pytest.raises(ConfigError, match="planner role"):
        VideoMindAgent(replace(FAST, planner=True)).run(backend, [], CONFIG)


def test_each_role_is_one_batched_call_and_the_trace_says_everything(
    backend: Any, video: tuple, tmp_path: Any
) -> None:
    path = str(video[0])
    samples = [
        Sample("a", path, "When does the square move?", ("early", "late")),
        Sample("b", str(tmp_path / "missing.mp4"), "q"),
        Sample("c", path, "When does it blink?"),
    ]
    agent = VideoMindAgent(replace(FAST, force_reg=True))
    a, b, c = agent.run(backend, samples, replace(CONFIG, batch_size=3))
    assert b.error is not None and "missing.mp4" in b.error and b.steps == []
    for t in (a, c):
        assert t.error is None and t.method == "videomind"
        assert [s.role for s in t.steps] == ["grounder"] + ["verifier"] * 5 + ["answerer"]
        assert [s.adapter for s in t.steps] == ["grounder"] + ["verifier"] * 5 + [None]
        assert all(s.status == "final" and s.evidence is not None for s in t.steps)
        assert all(s.prompt and s.seconds > 0 for s in t.steps)
        assert t.usage.role_calls == 7 and t.usage.frames == sum(
            s.evidence.frames for s in t.steps
        )
        assert t.answer.windows and len(t.answer.windows) == len(t.answer.scores) == 5
        assert t.response == t.steps[-1].text and t.stop_reason in ("stop", "length")
        pred = t.to_prediction()
        assert pred.windows == list(t.answer.windows) and pred.scores == list(t.answer.scores)
        again = Trace.from_dict(json.loads(json.dumps(t.to_dict())))
        assert again.to_dict() == t.to_dict() and again.steps[1].role == "verifier"
    # one batched call per role: both samples' steps carry the same call time
    for k in (0, 1, 6):
        assert a.steps[k].seconds == c.steps[k].seconds
    assert a.steps[0].candidates != c.steps[0].candidates


def test_registered_and_needs_a_videomind_checkpoint(
    ckpts: Any, backend: Any, video: tuple
) -> None:
    assert isinstance(METHODS["videomind"], VideoMindAgent)
    assert get_method("videomind").agent == AgentConfig()
    plain = load_backend(ckpts.released.base)
    with pytest.raises(ModelError, match="VideoMind checkpoint"):
        get_method("videomind").run(plain, [Sample("a", str(video[0]), "q")], CONFIG)
    # the other methods run on a VideoMind checkpoint: its base model, adapters off
    (direct,) = get_method("direct").run(
        backend, [Sample("a", str(video[0]), "q")], replace(CONFIG, overview_max_frames=4)
    )
    assert direct.error is None and backend.videomind.roles.active is None
    with pytest.raises(ConfigError):
        AgentConfig(verifier_score="softmax")
    with pytest.raises(ConfigError):
        AgentConfig(answer_min_ratio=0.0)
