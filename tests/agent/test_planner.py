"""The Planner: its total parser (valid plans, rephrasing, dozens of invalid texts), route fitting,
and the agent recording a fallback when the planner writes no valid plan."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from framescope.agent.agent import VideoMindAgent
from framescope.agent.planner import InvalidPlan, Plan, fit_route, parse_plan, planner_prompt
from framescope.errors import ConfigError
from framescope.methods import InferConfig, Sample
from framescope.settings import FULL_ROUTE, AgentConfig, check_route

from .conftest import FAST

G, V, A = "grounder", "verifier", "answerer"


@pytest.mark.parametrize(
    ("text", "plan"),
    [
        (
            '[{"type": "grounder", "value": "the dog jumps"}, {"type": "verifier"}, '
            '{"type": "answerer"}]',
            Plan(FULL_ROUTE, "the dog jumps"),
        ),
        ('[{"type": "grounder", "value": "a cat."}, {"type": "verifier"}]', Plan((G, V), "a cat")),
        ('[{"type": "answerer"}]', Plan((A,))),
        ('[{"type": "grounder"}, {"type": "verifier"}, {"type": "answerer"}]', Plan(FULL_ROUTE)),
        ('[{"type": "grounder", "value": ""}, {"type": "verifier"}]', Plan((G, V))),
        ('[{"type": "grounder", "value": null}, {"type": "verifier"}]', Plan((G, V))),
        ('[{"type": "Grounder", "value": "  x   y "}, {"type": "VERIFIER"}]', Plan((G, V), "x y")),
        (
            '[{"type": "grounder", "value": "q"}, {"type": "verifier"}, {"type": "answer"}]',
            Plan(FULL_ROUTE, "q"),
        ),
        ('{"type": "answerer"}', Plan((A,))),  # one call without the list
        ('```json\n[{"type": "answerer"}]\n```', Plan((A,))),
        (
            'Plan: [{"type": "grounder", "value": "q"}, {"type": "verifier"}] done',
            Plan((G, V), "q"),
        ),
        ('[{"type": "answerer", "value": "ignored"}]', Plan((A,))),
        (
            json.dumps([{"type": "grounder", "value": 'say "hi"'}, {"type": "verifier"}]),
            Plan((G, V), 'say "hi"'),
        ),
    ],
)
def test_valid_plans(text: str, plan: Plan) -> None:
    assert parse_plan(text) == plan


INVALID = [
    "",
    "   ",
    "I think we should ground first.",
    "grounder, verifier, answerer",
    "[",
    "]",
    "[]",
    "{}",
    "null",
    "42",
    '"answerer"',
    "true",
    '[{"type": "grounder", "value": "q"}, {"type": "verifier"}',  # cut off
    "[{'type': 'answerer'}]",  # Python, not JSON
    '[{"type": "answerer"},]',
    '["answerer"]',
    "[1, 2, 3]",
    "[null]",
    '[{"kind": "answerer"}]',
    '[{"type": 3}]',
    '[{"type": ["answerer"]}]',
    '[{"type": "planner"}]',
    '[{"type": "summariser"}]',
    '[{"type": "grounder", "value": "q"}]',  # grounder alone is no valid route
    '[{"type": "verifier"}]',
    '[{"type": "verifier"}, {"type": "answerer"}]',
    '[{"type": "grounder"}, {"type": "answerer"}]',
    '[{"type": "answerer"}, {"type": "grounder"}, {"type": "verifier"}]',
    '[{"type": "grounder"}, {"type": "verifier"}, {"type": "verifier"}]',
    '[{"type": "grounder"}, {"type": "grounder"}, {"type": "verifier"}]',
    '[{"type": "answerer"}, {"type": "answerer"}]',
    '[{"type": "grounder", "value": 5}, {"type": "verifier"}]',
    '[{"type": "grounder", "value": ["q"]}, {"type": "verifier"}]',
    '[{"type": "grounder", "value": {"q": 1}}, {"type": "verifier"}]',
    '[[{"type": "answerer"}]]',
    "\x00\x01\x02",
    "<|reg|><|im_end|>",
    "[" * 5000,  # deep nesting: still an InvalidPlan, not a RecursionError
    "[" * 5000 + "]" * 5000,
]


@pytest.mark.parametrize("text", INVALID)
def test_invalid_texts_give_a_typed_result(text: str) -> None:
    result = parse_plan(text)
    assert isinstance(result, InvalidPlan) and result.reason


def test_prompt_and_routes() -> None:
    text = planner_prompt("Why did the man stop?")
    assert text.endswith(
        "question: 'Why did the man stop?'. Please think carefully and respond "
        "with your plan in JSON directly."
    )
    assert '[{"type": "grounder", "value": "<text query>"}, {"type": "verifier"}, ' in text
    assert check_route(["grounder", "verifier"]) == (G, V)
    for bad in ([], ["verifier"], ["grounder"], ["answerer", "grounder"]):
        with pytest.raises(ConfigError, match="not valid"):
            check_route(bad)
    with pytest.raises(ConfigError):
        AgentConfig(route=("grounder",))
    # the verifier only re-ranks the grounder's candidates; the answerer is always there
    assert fit_route(FULL_ROUTE, [G, V, "planner"]) == FULL_ROUTE
    assert fit_route(FULL_ROUTE, [G]) == (G, A)
    assert fit_route(FULL_ROUTE, [V]) == (A,)
    assert fit_route(FULL_ROUTE, []) == (A,)
    assert fit_route((G, V), ["planner"]) == ()


def test_agent_records_the_fallback_of_an_invalid_plan(backend: Any, video: tuple) -> None:
    """The tiny random planner writes no JSON: the agent takes the full route and says why."""
    agent = VideoMindAgent(replace(FAST, planner=True))
    (trace,) = agent.run(
        backend, [Sample("p", str(video[0]), "What moves?")], InferConfig(max_new_tokens=3)
    )
    assert trace.error is None
    planner = trace.steps[0]
    assert planner.role == "planner" and planner.adapter == "planner"
    assert planner.prompt == planner_prompt("What moves?")
    assert planner.reason is not None and planner.reason.startswith("invalid plan (")
    assert "fell back to grounder → verifier → answerer" in planner.reason
    assert [s.role for s in trace.steps] == ["planner", "grounder"] + ["verifier"] * 5 + [A]
    assert trace.budgets.planner is True
