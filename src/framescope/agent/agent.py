"""The VideoMind agent loop (Chain-of-LoRA role agent, "VideoMind"): the one copy everything calls.

VideoMind (Liu et al., arXiv 2503.13444): one base Qwen2-VL model plays four roles by switching
LoRA adapters (:class:`~framescope.models.adapters.Roles`). For a batch of samples the loop runs
each role once over every sample that needs it, so every role is one batched call:

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from framescope.agent.answerer import MIN_LEN, answer_prompt, answer_window
from framescope.agent.common import (
    ADAPTER,
    clean_query,
    first_token,
    reply_text,
    role_budget,
    role_prompt,
)
from framescope.agent.grounder import RegCapture, fallback_candidates, grounder_prompt
from framescope.agent.planner import (
    ANSWERER,
    FULL_ROUTE,
    GROUNDER,
    VERIFIER,
    InvalidPlan,
    check_route,
    fit_route,
    parse_plan,
    planner_prompt,
)
from framescope.agent.subtitles import clip_lines, read_srt
from framescope.agent.verifier import (
    SCORES,
    TOP_K,
    mark_candidate,
    rerank,
    score_candidates,
    verifier_prompt,
    zoom,
)
from framescope.errors import ConfigError, FramescopeError, ModelError
from framescope.models.backend import ClipBlock, Segment
from framescope.models.engine import Engine, Hook, Row
from framescope.models.hf import HFBackend
from framescope.models.timestamp_head import Candidates
from framescope.retrieval.loop import InferConfig, Sample, read_answer
from framescope.types import Answer, Step, Trace, Window
from framescope.video.cache import FrameCache
from framescope.video.probe import VideoInfo, probe
from framescope.video.sampling import PixelBudget
from framescope.video.sampling import sample as sample_clip


@dataclass(frozen=True)
class AgentConfig:
    """VideoMind's settings (defaults: the release's), saved in every trace through ``budgets``."""

    planner: bool = False  # plan first (needs the planner role); the released eval never does
    route: tuple[str, ...] = FULL_ROUTE  # without a planner, and after an invalid plan
    verifier_score: str = "logit"  # sigmoid(logit_yes - logit_no); "prob": the release's quirk
    grounder_prefill: str = ""  # forced start of the grounder's reply, e.g. GROUNDER_REPLY
    answer_min_len: float = MIN_LEN  # seconds the answer clip is widened to
    answer_min_ratio: float | None = None  # … or this fraction of the video (some benchmarks)
    planner_fps: float = 1.0
    planner_max_frames: int = 100
    grounder_fps: float = 1.0
    grounder_max_frames: int = 150
    verifier_fps: float = 2.0
    verifier_max_frames: int = 64
    role_tokens: tuple[int, int] = (36, 64)  # merged tokens per frame: planner/grounder/verifier
    answer_fps: float = 2.0
    answer_max_frames: int = 32
    answer_tokens: tuple[int, int] = (128, 256)  # merged tokens per frame: answerer

    def __post_init__(self) -> None:
        check_route(self.route)
        if self.verifier_score not in SCORES:
            raise ConfigError(
                f"verifier_score must be one of {SCORES}, got {self.verifier_score!r}"
            )
        rates = (self.planner_fps, self.grounder_fps, self.verifier_fps, self.answer_fps)
        frames = (
            self.planner_max_frames,
            self.grounder_max_frames,
            self.verifier_max_frames,
            self.answer_max_frames,
        )
        tokens = (*self.role_tokens, *self.answer_tokens)
        ratio = self.answer_min_ratio
        if (
            min(rates) <= 0
            or min(frames) < 2
            or min(tokens) < 1
            or self.role_tokens[0] > self.role_tokens[1]
            or self.answer_tokens[0] > self.answer_tokens[1]
            or self.answer_min_len < 0
            or (ratio is not None and not 0 < ratio <= 1)
        ):
            raise ConfigError(
                "agent settings: fps > 0, max frames >= 2, token bounds 1 <= min <= max, "
                "answer_min_len >= 0, answer_min_ratio in (0, 1]"
            )

    def budgets(self) -> dict[str, float]:
        """The numeric settings, for ``Trace.budgets``."""
        return {
            "planner": float(self.planner),
            "planner_fps": self.planner_fps,
            "planner_max_frames": self.planner_max_frames,
            "grounder_fps": self.grounder_fps,
            "grounder_max_frames": self.grounder_max_frames,
            "verifier_top_k": TOP_K,
            "verifier_fps": self.verifier_fps,
            "verifier_max_frames": self.verifier_max_frames,
            "role_min_tokens": self.role_tokens[0],
            "role_max_tokens": self.role_tokens[1],
            "answer_min_len": self.answer_min_len,
            "answer_fps": self.answer_fps,
            "answer_max_frames": self.answer_max_frames,
            "answer_min_tokens": self.answer_tokens[0],
            "answer_max_tokens": self.answer_tokens[1],
        }


@dataclass
class _Episode:
    """One sample's state between role calls."""

    sample: Sample
    trace: Trace
    info: VideoInfo
    t0: float
    seed: int
    route: tuple[str, ...] = ()
    query: str = ""
    note: str | None = None  # how the route was fitted to the loaded roles
    moments: Candidates | None = None
    response: str = ""
    usage: dict[str, float] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.trace.error is not None


@dataclass
class _Call:
    """One row of a role call: its episode, prompt, clip block and decode time."""

    ep: _Episode
    prompt: Segment
    block: ClipBlock
    text: str  # the role's user text
    fetch: float
    forced: str = ""


class _Run:
    """The loop's shared state: backend, settings, role tokens, decoded-frame cache."""

    def __init__(self, backend: HFBackend, config: InferConfig, agent: AgentConfig) -> None:
        vm = backend.videomind
        assert vm is not None
        self.backend, self.vm, self.config, self.agent = backend, vm, config, agent
        self.cache = config.frame_cache if config.frame_cache is not None else FrameCache()
        self.roles = set(vm.roles.names)
        ids = vm.checkpoint.token_ids
        self.reg, self.seg = ids.reg, (ids.seg_start, ids.seg_end)
        self.yes_no = (first_token(backend, "Yes"), first_token(backend, "No"))
        if self.yes_no[0] == self.yes_no[1]:
            raise ModelError("the tokenizer starts 'Yes' and 'No' with the same token")
        self.role_budget = role_budget(backend, *agent.role_tokens)
        self.answer_budget = role_budget(backend, *agent.answer_tokens)

    # ------------------------------------------------------------------ helpers

    def clip_call(
        self,
        ep: _Episode,
        text: str,
        window: Window | None,
        fps: float,
        max_frames: int,
        budget: PixelBudget,
    ) -> _Call:
        """Sample ``window`` (None: the whole video) and build the role prompt around it."""
        t = time.perf_counter()
        clip = sample_clip(
            ep.info, window, fps=fps, max_frames=max_frames, budget=budget, cache=self.cache
        )
        prompt, block = role_prompt(self.backend, text, clip, self.config.system)
        return _Call(ep, prompt, block, text, time.perf_counter() - t)

    def generate(
        self, role: str, calls: Sequence[_Call], hook: Hook | None = None, pre_norm: bool = False
    ) -> list[Row]:
        """One batched generation of ``role`` over ``calls`` (prompt + forced start each)."""
        prompts = [c.prompt + Segment(self.backend.encode_text(c.forced)) for c in calls]
        with self.vm.roles.use(ADAPTER[role]):
            return Engine(self.backend, pre_norm=pre_norm).generate(
                prompts,
                max_new_tokens=self.config.max_new_tokens,
                sampling=self.config.sampling,
                seeds=[c.ep.seed for c in calls],
                hook=hook,
            )

    def record(
        self,
        call: _Call,
        role: str,
        seconds: float,
        *,
        text: str = "",
        row: Row | None = None,
        candidates: Sequence[Window] = (),
        scores: Sequence[float] = (),
        reason: str | None = None,
    ) -> Step:
        """Append the step of ``call`` (generated by ``row``) to its trace: usage counted, the
        route note on the sample's first step."""
        ep = call.ep
        ev = call.block.evidence
        if ep.note and not ep.trace.steps:
            reason = f"{ep.note}; {reason}" if reason else ep.note
        step = Step(
            text=text,
            forced=call.forced,
            reason=reason,
            evidence=ev,
            tokens_out=row.sampled if row else 0,
            tokens_in=len(row.tokens) - len(call.prompt) - row.sampled if row else 0,
            fetch_seconds=call.fetch,
            elapsed=time.perf_counter() - ep.t0,
            role=role,
            adapter=ADAPTER[role],
            prompt=call.text,
            candidates=list(candidates),
            scores=list(scores),
            seconds=seconds,
        )
        ep.trace.steps.append(step)
        for key, value in (
            ("prompt_tokens", len(call.prompt)),
            ("generated_tokens", step.tokens_out),
            ("injected_tokens", step.tokens_in),
            ("visual_tokens", ev.visual_tokens),
            ("frames", ev.frames),
            ("role_calls", 1),
        ):
            ep.usage[key] = ep.usage.get(key, 0) + value
        return step

    # ------------------------------------------------------------------ roles

    @staticmethod
    def build(
        eps: Sequence[_Episode], make: Callable[[_Episode], _Call | list[_Call]]
    ) -> list[_Call]:
        """``make(ep)`` for every episode; a failure fails that episode only."""
        calls: list[_Call] = []
        for ep in eps:
            try:
                made = make(ep)
            except FramescopeError as e:
                ep.trace.error = str(e)
                continue
            calls += made if isinstance(made, list) else [made]
        return calls

    def plan(self, eps: Sequence[_Episode]) -> None:
        """Planner: route and grounding query per episode (fallback on an invalid plan)."""
        a = self.agent
        calls = self.build(
            eps,
            lambda ep: self.clip_call(
                ep,
                planner_prompt(ep.sample.question),
                None,
                a.planner_fps,
                a.planner_max_frames,
                self.role_budget,
            ),
        )
        if not calls:
            return
        t = time.perf_counter()
        rows = self.generate("planner", calls)
        seconds = time.perf_counter() - t
        for call, row in zip(calls, rows):
            text = reply_text(self.backend, row, len(call.prompt))
            plan = parse_plan(text)
            reason = None
            if isinstance(plan, InvalidPlan):
                route, query = a.route, None
                reason = f"invalid plan ({plan.reason}): fell back to {_arrow(a.route)}"
            else:
                route, query = plan.route, plan.query
            self.set_route(call.ep, route, query)
            self.record(call, "planner", seconds, text=text, row=row, reason=reason)

    def ground(self, eps: Sequence[_Episode]) -> None:
        """Grounder: ranked moments from the head per episode, else the fallback windows."""
        a = self.agent

        def make(ep: _Episode) -> _Call:
            call = self.clip_call(
                ep,
                grounder_prompt(ep.query),
                None,
                a.grounder_fps,
                a.grounder_max_frames,
                self.role_budget,
            )
            call.forced = a.grounder_prefill
            return call

        calls = self.build([ep for ep in eps if GROUNDER in ep.route], make)
        if not calls:
            return
        t = time.perf_counter()
        capture = RegCapture(self.backend, self.reg, [len(c.prompt) for c in calls])
        rows = self.generate("grounder", calls, hook=capture, pre_norm=True)
        for i, row in enumerate(rows):
            capture.observe(i, row)  # a <|reg|> sampled as the last token
        assert self.vm.head is not None  # a grounder checkpoint always has its head
        found = capture.moments(self.vm.head, [c.ep.info.duration for c in calls])
        seconds = time.perf_counter() - t
        for call, row, moments in zip(calls, rows, found):
            ep, reason = call.ep, None
            if moments is None:
                moments = fallback_candidates(ep.info.duration, VERIFIER in ep.route)
                reason = "no <|reg|>: the release's fallback windows"
            ep.moments = moments
            text = reply_text(self.backend, row, len(call.prompt))
            self.record(
                call,
                "grounder",
                seconds,
                text=text,
                row=row,
                candidates=moments.windows,
                scores=moments.scores,
                reason=reason,
            )
            ep.response, ep.trace.stop_reason = text, row.stop_reason

    def verify(self, eps: Sequence[_Episode]) -> None:
        """Verifier: every episode's top 5 scored in one forward pass, then re-ranked."""
        a = self.agent

        def make(ep: _Episode) -> list[_Call]:
            assert ep.moments is not None
            calls = []
            for cand in ep.moments.windows[:TOP_K]:
                z = zoom(cand, ep.info.duration)
                call = self.clip_call(
                    ep,
                    verifier_prompt(ep.query),
                    z.window,
                    a.verifier_fps,
                    a.verifier_max_frames,
                    self.role_budget,
                )
                call.prompt = mark_candidate(self.backend, call.prompt, call.block, z, self.seg)
                calls.append(call)
            return calls

        todo = [
            ep
            for ep in eps
            if VERIFIER in ep.route and ep.moments is not None and len(ep.moments.windows) > 1
        ]
        calls = self.build(todo, make)
        if not calls:
            return
        t = time.perf_counter()
        scores = score_candidates(
            self.backend, [c.prompt for c in calls], self.yes_no, a.verifier_score
        )
        seconds = time.perf_counter() - t
        # build() keeps each episode's candidates together and in rank order
        for _, group in groupby(zip(calls, scores), key=lambda cs: id(cs[0].ep)):
            pairs = list(group)
            ep = pairs[0][0].ep
            assert ep.moments is not None
            top = Candidates(ep.moments.windows[: len(pairs)], ep.moments.scores[: len(pairs)])
            for (call, score), cand in zip(pairs, top.windows):
                self.record(call, "verifier", seconds, candidates=[cand], scores=[score])
            ep.moments = rerank(top, [score for _, score in pairs])  # as released: the 5 only

    def answer(self, eps: Sequence[_Episode]) -> None:
        """Answerer (base model): the top moment widened, or the whole video."""
        a = self.agent

        def make(ep: _Episode) -> _Call:
            s = ep.sample
            moment = ep.moments.windows[0] if ep.moments and ep.moments.windows else None
            window = answer_window(moment, ep.info.duration, a.answer_min_len, a.answer_min_ratio)
            lines = clip_lines(read_srt(s.subtitles).cues, window) if s.subtitles else None
            text, prefill = answer_prompt(s.question, s.options, lines, window.duration)
            call = self.clip_call(
                ep, text, window, a.answer_fps, a.answer_max_frames, self.answer_budget
            )
            call.forced = s.prefill or prefill
            return call

        calls = self.build([ep for ep in eps if ANSWERER in ep.route], make)
        if not calls:
            return
        t = time.perf_counter()
        rows = self.generate("answerer", calls)
        seconds = time.perf_counter() - t
        for call, row in zip(calls, rows):
            text = reply_text(self.backend, row, len(call.prompt))
            window = call.block.evidence.window or Window(0.0, call.ep.info.duration)
            self.record(call, "answerer", seconds, text=text, row=row, candidates=[window])
            call.ep.response = text
            call.ep.trace.stop_reason = row.stop_reason

    # ------------------------------------------------------------------ episodes

    def set_route(self, ep: _Episode, route: tuple[str, ...], query: str | None) -> None:
        """Fit ``route`` to the loaded roles; the grounding query (cleaned as released)."""
        fitted = fit_route(route, self.roles)
        if fitted != route:
            ep.note = (
                f"route {_arrow(route)} fitted to the loaded roles "
                f"({', '.join(sorted(self.roles))}): {_arrow(fitted) or 'nothing'}"
            )
        if not fitted:
            ep.trace.error = ep.note
        ep.route = fitted
        ep.query = clean_query(query or ep.sample.question)

    def open(self, s: Sample) -> _Episode | Trace:
        """The sample's episode, or its finished trace when the video cannot be read."""
        t0 = time.perf_counter()
        trace = Trace(
            id=s.id,
            method="videomind",
            video=s.video,
            question=s.question,
            options=tuple(s.options),
            budgets=self.agent.budgets(),
        )
        try:
            info = probe(s.video)
        except FramescopeError as e:
            trace.error = str(e)
            trace.seconds = time.perf_counter() - t0
            return trace
        trace.duration = info.duration
        ep = _Episode(s, trace, info, t0, self.config.sample_seed(s.id))
        if not self.agent.planner:
            self.set_route(ep, self.agent.route, None)
        return ep

    def finish(self, ep: _Episode) -> Trace:
        """The episode's trace: final moments and scores, the answer (when answered), usage."""
        trace = ep.trace
        trace.response = ep.response
        moments = ep.moments or Candidates([], [])
        answered = ANSWERER in ep.route and not ep.failed
        read = read_answer(ep.response, ep.sample.options) if answered else Answer()
        trace.answer = Answer(read.text, read.letter, tuple(moments.windows), tuple(moments.scores))
        trace.usage = dict(ep.usage)
        trace.seconds = time.perf_counter() - ep.t0
        return trace


def _arrow(route: Sequence[str]) -> str:
    return " → ".join(route)


def run_agent(
    backend: HFBackend, samples: Sequence[Sample], config: InferConfig, agent: AgentConfig
) -> list[Trace]:
    """Run VideoMind over ``samples`` in batches of ``config.batch_size``; one trace per sample,
    in order (a sample that cannot be read or sampled gets a trace with ``error``)."""
    if not isinstance(backend, HFBackend) or backend.videomind is None:
        raise ModelError(
            "the videomind method needs a VideoMind checkpoint (config.json model_type "
            "agent_qwen2_vl: base model + grounder/verifier/planner adapters + head)"
        )
    agent = checkpoint_settings(agent, backend.videomind.checkpoint.agent)
    run = _Run(backend, config, agent)
    if agent.planner and "planner" not in run.roles:
        raise ConfigError(
            f"planning needs the planner role; the checkpoint has {', '.join(sorted(run.roles))}"
        )
    traces: list[Trace] = []
    stages = (run.plan,) if agent.planner else ()
    for k in range(0, len(samples), config.batch_size):
        opened = [run.open(s) for s in samples[k : k + config.batch_size]]
        eps = [ep for ep in opened if isinstance(ep, _Episode)]
        for stage in (*stages, run.ground, run.verify, run.answer):
            stage([ep for ep in eps if not ep.failed])  # each role: one batched call
        traces += [run.finish(ep) if isinstance(ep, _Episode) else ep for ep in opened]
    return traces


def checkpoint_settings(agent: AgentConfig, recorded: dict[str, Any]) -> AgentConfig:
    """The settings a checkpoint was trained for (``framescope.json``'s ``agent``: frame sizes
    a model trained from scratch knows, e.g. ``role_tokens``) when ``agent`` is the default; an
    agent configured by its caller is used as given."""
    if agent != AgentConfig() or not recorded:
        return agent
    fields = {f.name for f in dataclasses.fields(AgentConfig)}
    unknown = sorted(set(recorded) - fields)
    if unknown:
        raise ModelError(f"checkpoint agent settings: unknown field(s) {', '.join(unknown)}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in recorded.items()}
    return dataclasses.replace(agent, **values)


class VideoMindAgent:
    """The ``videomind`` method: VideoMind's role agent with ``agent`` settings."""

    name = "videomind"

    def __init__(self, agent: AgentConfig = AgentConfig()) -> None:
        self.agent = agent

    def run(self, backend: object, samples: Sequence[Sample], config: InferConfig) -> list[Trace]:
        """:func:`run_agent` (``backend``: one loaded from a VideoMind checkpoint)."""
        return run_agent(backend, samples, config, self.agent)  # type: ignore[arg-type]
