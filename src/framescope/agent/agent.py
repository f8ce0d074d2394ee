"""The VideoMind agent loop (Chain-of-LoRA role agent, "VideoMind"): the one copy everything calls.

VideoMind (Liu et al., arXiv 2503.13444): one base Qwen2-VL model plays four roles by switching
LoRA adapters (:class:`~framescope.models.adapters.Roles`). For a batch of samples the loop runs
each role once over every sample that needs it, so every role is one batched call; the batch's
state (episodes, role calls, steps, traces) is an :class:`~framescope.agent.session.AgentSession`
and each role below is one stage function over it:

1. **Planner** (optional, ``AgentConfig.planner``; the released evaluation never plans): a JSON
   plan picks the route and may rephrase the query (:mod:`framescope.agent.planner`); an invalid
   plan falls back to ``AgentConfig.route`` and the trace says why.
2. **Grounder**: generation with the grounder adapter; each ``<|reg|>`` runs the timestamp head
   → ranked moments in absolute seconds, or the release's fallback windows
   (:mod:`framescope.agent.grounder`).
3. **Verifier**: the top 5 zoomed, marked and scored in one forward pass, re-ranked
   (:mod:`framescope.agent.verifier`).
4. **Answerer**: the base model (adapters off) on the top moment widened to a minimum length, or
   on the whole video (:mod:`framescope.agent.answerer`).

The route is the planner's plan, else ``AgentConfig.route`` (grounder → verifier → answerer),
fitted to the roles the checkpoint has (:func:`~framescope.agent.planner.fit_route`: no verifier
→ candidates go unverified; no grounder → the answerer sees the whole video); a change is noted on
the sample's first step. Every role call is a :class:`~framescope.types.Step` of the sample's
:class:`~framescope.types.Trace` (``role``, ``adapter``, ``prompt``, reply, ``candidates`` with
``scores``, the clip it saw, timings); ``Trace.answer`` holds the final ranked moments with their
scores and the answer.

Decoding, prompts and spans follow the release (see each role module for its deviations).
Sampling of every generating role is ``InferConfig.sampling`` (greedy by default, as released)
with at most ``InferConfig.max_new_tokens`` tokens (the release: 256).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import replace
from itertools import groupby
from typing import Any

from framescope.agent.answerer import answer_prompt, answer_window
from framescope.agent.grounder import (
    GROUNDER_REPLY,
    RegCapture,
    fallback_candidates,
    grounder_prompt,
)
from framescope.agent.planner import InvalidPlan, parse_plan, planner_prompt
from framescope.agent.session import AgentSession, Episode, RoleCall, arrow, videomind
from framescope.agent.verifier import (
    mark_candidate,
    rerank,
    score_candidates,
    verifier_prompt,
    zoom,
)
from framescope.errors import ModelError
from framescope.models.backend import Backend
from framescope.models.timestamp_head import Candidates
from framescope.settings import ANSWERER, GROUNDER, PLANNER, VERIFIER, AgentConfig, InferConfig
from framescope.subtitles import clip_lines, read_srt
from framescope.types import Sample, Trace, Window
from framescope.video.cache import FrameCache


def plan(session: AgentSession) -> None:
    """Planner: route and grounding query per episode (the fallback route on an invalid plan)."""
    fallback = session.agent.route
    calls = session.build(
        session.live(),
        lambda ep: session.clip_call(ep, PLANNER, planner_prompt(ep.sample.question), None),
    )
    if not calls:
        return
    rows, seconds = session.generate(calls)
    for call, row in zip(calls, rows):
        text = session.reply(call, row)
        parsed = parse_plan(text)
        reason = None
        if isinstance(parsed, InvalidPlan):
            route, query = fallback, None
            reason = f"invalid plan ({parsed.reason}): fell back to {arrow(fallback)}"
        else:
            route, query = parsed.route, parsed.query
        session.set_route(call.ep, route, query)
        session.record(call, seconds, text=text, row=row, reason=reason)


def ground(session: AgentSession) -> None:
    """Grounder: ranked moments from the head per episode, else the release's fallback windows."""

    def make(ep: Episode) -> RoleCall:
        call = session.clip_call(ep, GROUNDER, grounder_prompt(ep.query), None)
        call.forced = GROUNDER_REPLY if session.agent.force_reg else ""
        return call

    calls = session.build(session.live(GROUNDER), make)
    if not calls:
        return
    capture = RegCapture(session.backend, session.reg, [len(c.prompt) for c in calls])
    rows, seconds = session.generate(calls, hook=capture, pre_norm=True)
    t = time.perf_counter()
    for i, row in enumerate(rows):
        capture.observe(i, row)  # a <|reg|> sampled as the last token
    assert session.vm.head is not None  # a grounder checkpoint always has its head
    found = capture.moments(session.vm.head, [c.ep.info.duration for c in calls])
    seconds += time.perf_counter() - t  # the role's time: generation and the head
    for call, row, moments in zip(calls, rows, found):
        ep, reason = call.ep, None
        if moments is None:
            moments = fallback_candidates(ep.info.duration, VERIFIER in ep.route)
            reason = "no <|reg|>: the release's fallback windows"
        ep.moments = moments
        text = session.reply(call, row)
        session.record(
            call,
            seconds,
            text=text,
            row=row,
            candidates=moments.windows,
            scores=moments.scores,
            reason=reason,
        )
        ep.response, ep.trace.stop_reason = text, row.stop_reason


def verify(session: AgentSession) -> None:
    """Verifier: every episode's top k zoomed, marked and scored in one forward pass, re-ranked."""
    a = session.agent

    def make(ep: Episode) -> list[RoleCall]:
        assert ep.moments is not None
        calls = []
        for cand in ep.moments.windows[: a.verifier_top_k]:
            z = zoom(cand, ep.info.duration)
            call = session.clip_call(ep, VERIFIER, verifier_prompt(ep.query), z.window)
            call.prompt = mark_candidate(session.backend, call.prompt, call.block, z, session.seg)
            calls.append(call)
        return calls

    todo = [ep for ep in session.live(VERIFIER) if ep.moments and len(ep.moments.windows) > 1]
    calls = session.build(todo, make)
    if not calls:
        return
    t = time.perf_counter()
    prompts = [c.prompt for c in calls]
    scores = score_candidates(session.backend, prompts, session.yes_no, a.verifier_score)
    seconds = time.perf_counter() - t
    # build() keeps each episode's candidates together and in rank order
    for _, group in groupby(zip(calls, scores), key=lambda cs: id(cs[0].ep)):
        pairs = list(group)
        ep = pairs[0][0].ep
        assert ep.moments is not None
        top = Candidates(ep.moments.windows[: len(pairs)], ep.moments.scores[: len(pairs)])
        for (call, score), cand in zip(pairs, top.windows):
            session.record(call, seconds, candidates=[cand], scores=[score])
        ep.moments = rerank(top, [score for _, score in pairs])  # as released: the top k only


def answer(session: AgentSession) -> None:
    """Answerer (base model): the top moment widened, or the whole video."""
    a = session.agent

    def make(ep: Episode) -> RoleCall:
        s = ep.sample
        moment = ep.moments.windows[0] if ep.moments and ep.moments.windows else None
        window = answer_window(moment, ep.info.duration, a.answer_min_len, a.answer_min_ratio)
        lines = clip_lines(read_srt(s.subtitles).cues, window) if s.subtitles else None
        text, prefill = answer_prompt(s.question, s.options, lines, window.duration)
        call = session.clip_call(ep, ANSWERER, text, window)
        call.forced = s.prefill or prefill
        return call

    calls = session.build(session.live(ANSWERER), make)
    if not calls:
        return
    rows, seconds = session.generate(calls)
    for call, row in zip(calls, rows):
        text = session.reply(call, row)
        window = call.block.evidence.window or Window(0.0, call.ep.info.duration)
        session.record(call, seconds, text=text, row=row, candidates=[window])
        call.ep.response, call.ep.trace.stop_reason = text, row.stop_reason


def run_agent(
    backend: Backend, samples: Sequence[Sample], config: InferConfig, agent: AgentConfig
) -> list[Trace]:
    """Run VideoMind over ``samples`` in batches of ``config.batch_size``; one trace per sample,
    in order (a sample that cannot be read or sampled gets a trace with ``error``). ``backend``
    must come from a VideoMind checkpoint (:class:`~framescope.errors.ModelError` otherwise)."""
    vm = videomind(backend, agent)  # a wrong checkpoint fails before any batch
    agent = checkpoint_settings(agent, vm.checkpoint.agent)
    if config.frame_cache is None:  # one decoded-frame cache for every batch
        config = replace(config, frame_cache=FrameCache())
    stages = (plan, ground, verify, answer) if agent.planner else (ground, verify, answer)
    traces: list[Trace] = []
    size = config.batch_for(backend.device)
    for k in range(0, len(samples), size):
        session = AgentSession(backend, samples[k : k + size], config, agent)
        for stage in stages:
            stage(session)  # each role: one batched call over the episodes still running
        traces += session.finish()
    return traces


def checkpoint_settings(agent: AgentConfig, recorded: dict[str, Any]) -> AgentConfig:
    """``agent`` over the settings a checkpoint was trained for (``framescope.json``'s ``agent``:
    e.g. the frame sizes a model trained from scratch knows): a field the caller left at its
    default takes the recorded value, one the caller set is kept."""
    if not recorded:
        return agent
    fields = {f.name: f for f in dataclasses.fields(AgentConfig)}
    unknown = sorted(set(recorded) - set(fields))
    if unknown:
        raise ModelError(f"checkpoint agent settings: unknown field(s) {', '.join(unknown)}")
    default = AgentConfig()
    values = {
        k: tuple(v) if isinstance(v, list) else v
        for k, v in recorded.items()
        if getattr(agent, k) == getattr(default, k)
    }
    return dataclasses.replace(agent, **values)


class VideoMindAgent:
    """The ``videomind`` method: VideoMind's role agent with ``agent`` settings."""

    name = "videomind"

    def __init__(self, agent: AgentConfig = AgentConfig()) -> None:
        self.agent = agent

    def run(self, backend: Backend, samples: Sequence[Sample], config: InferConfig) -> list[Trace]:
        """:func:`run_agent` (``backend``: one loaded from a VideoMind checkpoint)."""
        return run_agent(backend, samples, config, self.agent)
