"""Traces read back typed: usage and budgets from the JSON layout written before they were typed."""

from __future__ import annotations

import json
from dataclasses import asdict

from framescope.settings import AgentConfig, Budgets
from framescope.types import AgentBudgets, RetrievalBudgets, Trace, Usage

HEAD = {"id": "q", "video": "v.mp4", "question": "When?"}
RETRIEVAL_USAGE = {
    "prompt_tokens": 120,
    "generated_tokens": 12,
    "injected_tokens": 40,
    "visual_tokens": 96,
    "frames": 12,
    "rounds": 1,
    "rejected": 0,
}


def _reads_back_the_same(obj: dict) -> Trace:
    trace = Trace.from_dict(json.loads(json.dumps(obj)))
    assert {k: trace.to_dict()[k] for k in ("budgets", "usage")} == {
        "budgets": obj["budgets"],
        "usage": obj["usage"],
    }
    return trace


def test_a_retrieval_trace_reads_typed_and_writes_the_same_layout() -> None:
    budgets = {"max_frames": 128, "max_rounds": 3, "max_fps": 30.0, "max_visual_tokens": 32768}
    old = {**HEAD, "method": "dynframe", "budgets": budgets, "usage": RETRIEVAL_USAGE}
    trace = _reads_back_the_same(old)
    assert trace.budgets == RetrievalBudgets(128, 3, 30.0, 32768) == Budgets().report()
    assert trace.usage == Usage(120, 12, 40, 96, 12, rounds=1, rejected=0)
    assert trace.usage.role_calls is None


def test_an_agent_trace_reads_typed_and_its_planner_flag_is_a_bool() -> None:
    budgets = {k: float(v) for k, v in asdict(AgentConfig().report()).items()}  # as once written
    usage = {"prompt_tokens": 900, "generated_tokens": 30, "injected_tokens": 9}
    usage |= {"visual_tokens": 700, "frames": 80, "role_calls": 7}
    trace = Trace.from_dict({**HEAD, "method": "videomind", "budgets": budgets, "usage": usage})
    assert trace.budgets == AgentConfig().report()
    assert isinstance(trace.budgets, AgentBudgets) and trace.budgets.planner is False
    assert isinstance(trace.budgets.grounder_max_frames, int)
    assert trace.usage.role_calls == 7 and trace.usage.rounds is None
    assert trace.to_dict()["usage"] == usage


def test_a_failed_or_direct_trace_has_no_budgets_and_zero_usage() -> None:
    trace = Trace.from_dict({**HEAD, "method": "direct", "budgets": {}, "usage": {}})
    assert trace.budgets is None and trace.usage == Usage()
    assert trace.to_dict()["budgets"] == {}
    _reads_back_the_same({**HEAD, "method": "direct", "budgets": {}, "usage": RETRIEVAL_USAGE})
