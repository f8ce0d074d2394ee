"""VideoMind's Planner: the released prompt and a total parser of its JSON plan.

VideoMind (Liu et al., arXiv 2503.13444). The planner adapter reads the whole video (fps 1, at
most 100 frames, 36–64 × 28² pixels per frame) and the question, and writes a JSON list of calls,
e.g. ``[{"type": "grounder", "value": "<query>"}, {"type": "verifier"}, {"type": "answerer"}]``.
Valid routes: grounder → verifier → answerer, grounder → verifier, answerer alone. The grounder's
``value`` is a rephrased query for grounding (the question itself when absent).

**Deviations from the release:**

- The release reads only the plan's *first* call (grounder with a value → rephrase; answerer →
  skip grounding) inside a bare ``try``; here the whole list must be one of the valid routes,
  and anything else is an :class:`InvalidPlan` with a reason — the agent then takes its fallback
  route and records why.
- Tolerant of the wrapping a model may add: surrounding text or a code fence around the list, a
  single call object instead of a list, ``"answer"`` for ``"answerer"`` (the prompt itself
  says "grounder, verifier, answer"), any letter case.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from framescope.agent.common import clean_query
from framescope.models.videomind_ckpt import plan_for_roles
from framescope.settings import ANSWERER, FULL_ROUTE, GROUNDER, ROUTES

_ALIASES = {"answer": ANSWERER}

# The released text, word for word: the planner adapter was trained on it.
PLANNER_PROMPT = (
    "You are acting as the planner now. Given a question about the video, your task is to "
    "analyze the question and identify the best way to answer this question. You have access "
    "to the following tools:\n\n"
    "Grounder: Accepts a text query and localize the relevant video segment according to the "
    "query.\n"
    "Verifier: A tool supporting grounder by verifying the reliability of its outputs.\n"
    "Answerer: Answer a given question directly based on the whole video or a cropped video "
    "segment.\n\n"
    "Your response must be a list in JSON format. A valid plan for reasoning could be "
    '"grounder, verifier, answer", "grounder, verifier", or "answerer", depending on the given '
    "question. Please see an example for the format below.\n\n"
    '[{"type": "grounder", "value": "<text query>"}, {"type": "verifier"}, '
    '{"type": "answerer"}]\n\n'
    'Note that only the grounder can accept an argument called "value", which is the text query '
    "used for grounding. Now I give you the question: '{question}'. Please think carefully and "
    "respond with your plan in JSON directly."
)


@dataclass(frozen=True)
class Plan:
    """A valid plan: its ``route`` and the grounder's rephrased ``query`` (``None``: none given)."""

    route: tuple[str, ...]
    query: str | None = None


@dataclass(frozen=True)
class InvalidPlan:
    """Planner text that is no valid plan, and why."""

    reason: str


def planner_prompt(question: str) -> str:
    """The planner's user text for ``question``."""
    return PLANNER_PROMPT.replace("{question}", question)


def parse_plan(text: str) -> Plan | InvalidPlan:
    """Read a plan from planner text; never raises (bad text gives :class:`InvalidPlan`)."""
    data = _json_list(text)
    if isinstance(data, InvalidPlan):
        return data
    route, query = [], None
    for k, call in enumerate(data, 1):
        if not isinstance(call, dict) or not isinstance(call.get("type"), str):
            return InvalidPlan(f'call {k} is not an object with a "type"')
        kind = call["type"].strip().lower()
        kind = _ALIASES.get(kind, kind)
        if kind not in FULL_ROUTE:
            return InvalidPlan(f"call {k} names an unknown role {call['type']!r}")
        if kind == GROUNDER and "value" in call:
            value = call["value"]
            if value is not None and not isinstance(value, str):
                return InvalidPlan("the grounder's value is not text")
            query = clean_query(value or "") or None
        route.append(kind)
    if tuple(route) not in ROUTES:
        return InvalidPlan(f"{' → '.join(route) or 'an empty list'} is not a valid route")
    return Plan(tuple(route), query if route[0] == GROUNDER else None)


def _json_list(text: str) -> list[Any] | InvalidPlan:
    """The JSON list in ``text`` (a bare object counts as a list of one)."""
    stripped = re.sub(r"^```(?:json)?\s*|\s*```$", "", text.strip())
    candidates = [stripped]
    if "[" in stripped and "]" in stripped:  # prose around the list
        candidates.append(stripped[stripped.index("[") : stripped.rindex("]") + 1])
    for candidate in candidates:
        try:
            data = json.loads(candidate)
        except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
            continue
        if isinstance(data, dict):
            return [data]
        if isinstance(data, list):
            return data
        return InvalidPlan(f"the JSON is a {type(data).__name__}, not a list of calls")
    return InvalidPlan("no JSON list of calls in the text")


def fit_route(route: tuple[str, ...], roles: Iterable[str]) -> tuple[str, ...]:
    """The part of ``route`` the loaded ``roles`` can run (:func:`plan_for_roles`: the answerer
    is the base model and always there; the verifier only re-ranks the grounder's candidates)."""
    runnable = plan_for_roles(roles)
    return tuple(r for r in route if r in runnable)
