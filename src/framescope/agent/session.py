"""The VideoMind agent's state for one batch of samples, as
:class:`~framescope.retrieval.loop.RetrievalSession` is the retrieval loop's.

An :class:`AgentSession` opens every sample (probe, route), builds role calls over its episodes
(the role's clip sampled at the role's density, the role prompt around it), runs one batched
generation per role, records every call as a :class:`~framescope.types.Step` of its sample's
trace and closes the traces. The role stages that drive it, and the loop over batches, are in
:mod:`framescope.agent.agent`. Written against the :class:`~framescope.models.backend.Backend`
protocol; a backend loaded from a VideoMind checkpoint has the roles and head it needs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from framescope.agent.common import (
    ADAPTER,
    clean_query,
    first_token,
    reply_text,
    role_budget,
    role_prompt,
)
from framescope.agent.planner import fit_route
from framescope.errors import ConfigError, FramescopeError, ModelError
from framescope.models.backend import Backend, ClipBlock, Segment
from framescope.models.engine import Engine, Hook, Row
from framescope.models.folders import GET_VIDEOMIND
from framescope.models.timestamp_head import Candidates
from framescope.models.videomind_ckpt import VideoMind
from framescope.retrieval.loop import read_answer
from framescope.settings import (
    ANSWERER,
    GROUNDER,
    PLANNER,
    VERIFIER,
    AgentConfig,
    InferConfig,
)
from framescope.types import Answer, Sample, Step, Trace, Usage, Window
from framescope.video.cache import FrameCache
from framescope.video.probe import VideoInfo, probe
from framescope.video.sampling import PixelBudget
from framescope.video.sampling import sample as sample_clip


def arrow(route: Sequence[str]) -> str:
    """A route as the traces write it: ``grounder → verifier → answerer``."""
    return " → ".join(route)


def videomind(backend: Backend, agent: AgentConfig) -> VideoMind:
    """The backend's VideoMind roles and head: :class:`ModelError` when it was not loaded from a
    VideoMind checkpoint, :class:`ConfigError` when ``agent`` plans but the planner is absent."""
    vm = backend.videomind
    if vm is None:
        raise ModelError(f"the videomind method needs a VideoMind checkpoint; {GET_VIDEOMIND}")
    if agent.planner and PLANNER not in vm.roles.names:
        have = ", ".join(sorted(vm.roles.names))
        raise ConfigError(f"planning needs the planner role; the checkpoint has {have}")
    return vm


@dataclass
class Episode:
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
    prompt_tokens: int = 0  # of every role call's prompt

    @property
    def failed(self) -> bool:
        return self.trace.error is not None


@dataclass
class RoleCall:
    """One row of a role call: its episode and role, prompt, clip block and decode time."""

    ep: Episode
    role: str
    prompt: Segment
    block: ClipBlock
    text: str  # the role's user text
    fetch: float
    forced: str = ""


class AgentSession:
    """The agent's state for one batch: backend, settings, role tokens, the decoded-frame cache,
    one :class:`Episode` per sample that could be opened, and the traces in sample order
    (:meth:`finish` closes them). :func:`~framescope.agent.agent.run_agent` composes it with the
    role stages."""

    def __init__(
        self, backend: Backend, samples: Sequence[Sample], config: InferConfig, agent: AgentConfig
    ) -> None:
        vm = videomind(backend, agent)
        self.backend, self.vm, self.config, self.agent = backend, vm, config, agent
        self.roles = set(vm.roles.names)
        ids = vm.checkpoint.token_ids
        self.reg, self.seg = ids.reg, (ids.seg_start, ids.seg_end)
        self.yes_no = (first_token(backend, "Yes"), first_token(backend, "No"))
        if self.yes_no[0] == self.yes_no[1]:
            raise ModelError("the tokenizer starts 'Yes' and 'No' with the same token")
        self.cache = config.frame_cache if config.frame_cache is not None else FrameCache()
        a, pixels = agent, role_budget(backend, *agent.role_tokens)
        # each role's clips: density, frame cap, per-frame pixel bounds
        self.clips: dict[str, tuple[float, int, PixelBudget]] = {
            PLANNER: (a.planner_fps, a.planner_max_frames, pixels),
            GROUNDER: (a.grounder_fps, a.grounder_max_frames, pixels),
            VERIFIER: (a.verifier_fps, a.verifier_max_frames, pixels),
            ANSWERER: (a.answer_fps, a.answer_max_frames, role_budget(backend, *a.answer_tokens)),
        }
        self.traces: list[Trace] = []
        self.episodes: list[Episode] = []
        for s in samples:
            opened = self._open(s)
            self.traces.append(opened.trace if isinstance(opened, Episode) else opened)
            if isinstance(opened, Episode):
                self.episodes.append(opened)

    def live(self, role: str | None = None) -> list[Episode]:
        """The episodes still running (whose route has ``role``, when given)."""
        return [ep for ep in self.episodes if not ep.failed and (role is None or role in ep.route)]

    # ------------------------------------------------------------------ role calls

    def clip_call(self, ep: Episode, role: str, text: str, window: Window | None) -> RoleCall:
        """Sample ``window`` (None: the whole video) at ``role``'s density, frame cap and pixel
        budget, and build the role prompt around the clip."""
        t = time.perf_counter()
        fps, max_frames, budget = self.clips[role]
        clip = sample_clip(
            ep.info, window, fps=fps, max_frames=max_frames, budget=budget, cache=self.cache
        )
        prompt, block = role_prompt(self.backend, text, clip, self.config.system)
        return RoleCall(ep, role, prompt, block, text, time.perf_counter() - t)

    @staticmethod
    def build(
        eps: Sequence[Episode], make: Callable[[Episode], RoleCall | list[RoleCall]]
    ) -> list[RoleCall]:
        """``make(ep)`` for every episode; a failure fails that episode only."""
        calls: list[RoleCall] = []
        for ep in eps:
            try:
                made = make(ep)
            except FramescopeError as e:
                ep.trace.error = str(e)
                continue
            calls += made if isinstance(made, list) else [made]
        return calls

    def generate(
        self, calls: Sequence[RoleCall], hook: Hook | None = None, pre_norm: bool = False
    ) -> tuple[list[Row], float]:
        """One batched generation of the calls' role (prompt + forced start each): the rows and
        the seconds it took."""
        t = time.perf_counter()
        prompts = [c.prompt + Segment(self.backend.encode_text(c.forced)) for c in calls]
        with self.vm.roles.use(ADAPTER[calls[0].role]):
            rows = Engine(self.backend, pre_norm=pre_norm).generate(
                prompts,
                max_new_tokens=self.config.max_new_tokens,
                sampling=self.config.sampling,
                seeds=[c.ep.seed for c in calls],
                hook=hook,
            )
        return rows, time.perf_counter() - t

    def reply(self, call: RoleCall, row: Row) -> str:
        """What the role wrote (its forced start included, special tokens kept)."""
        return reply_text(self.backend, row, len(call.prompt))

    def record(
        self,
        call: RoleCall,
        seconds: float,
        *,
        text: str = "",
        row: Row | None = None,
        candidates: Sequence[Window] = (),
        scores: Sequence[float] = (),
        reason: str | None = None,
    ) -> Step:
        """Append the step of ``call`` (generated by ``row``) to its trace, the route note on the
        sample's first step."""
        ep = call.ep
        if ep.note and not ep.trace.steps:
            reason = f"{ep.note}; {reason}" if reason else ep.note
        step = Step(
            text=text,
            forced=call.forced,
            reason=reason,
            evidence=call.block.evidence,
            tokens_out=row.sampled if row else 0,
            tokens_in=len(row.tokens) - len(call.prompt) - row.sampled if row else 0,
            fetch_seconds=call.fetch,
            elapsed=time.perf_counter() - ep.t0,
            role=call.role,
            adapter=ADAPTER[call.role],
            prompt=call.text,
            candidates=list(candidates),
            scores=list(scores),
            seconds=seconds,
        )
        ep.trace.steps.append(step)
        ep.prompt_tokens += len(call.prompt)
        return step

    # ------------------------------------------------------------------ episodes

    def set_route(self, ep: Episode, route: tuple[str, ...], query: str | None) -> None:
        """Fit ``route`` to the loaded roles; the grounding query (cleaned as released)."""
        fitted = fit_route(route, self.roles)
        if fitted != route:
            ep.note = (
                f"route {arrow(route)} fitted to the loaded roles "
                f"({', '.join(sorted(self.roles))}): {arrow(fitted) or 'nothing'}"
            )
        if not fitted:
            ep.trace.error = ep.note
        ep.route = fitted
        ep.query = clean_query(query or ep.sample.question)

    def _open(self, s: Sample) -> Episode | Trace:
        """The sample's episode, or its finished trace when the video cannot be read."""
        t0 = time.perf_counter()
        trace = Trace(
            id=s.id,
            method="videomind",
            video=s.video,
            question=s.question,
            options=tuple(s.options),
            budgets=self.agent.report(),
        )
        try:
            info = probe(s.video)
        except FramescopeError as e:
            trace.error = str(e)
            trace.seconds = time.perf_counter() - t0
            return trace
        trace.duration = info.duration
        ep = Episode(s, trace, info, t0, self.config.sample_seed(s.id))
        if not self.agent.planner:
            self.set_route(ep, self.agent.route, None)
        return ep

    def finish(self) -> list[Trace]:
        """Close every episode (final moments and scores, the answer when answered, usage); the
        traces in sample order."""
        for ep in self.episodes:
            trace = ep.trace
            trace.response = ep.response
            moments = ep.moments or Candidates([], [])
            answered = ANSWERER in ep.route and not ep.failed
            read = read_answer(ep.response, ep.sample.options) if answered else Answer()
            windows, scores = tuple(moments.windows), tuple(moments.scores)
            trace.answer = Answer(read.text, read.letter, windows, scores)
            shown = [s.evidence for s in trace.steps if s.evidence]
            trace.usage = Usage(
                prompt_tokens=ep.prompt_tokens,
                generated_tokens=sum(s.tokens_out for s in trace.steps),
                injected_tokens=sum(s.tokens_in for s in trace.steps),
                visual_tokens=sum(e.visual_tokens for e in shown),
                frames=sum(e.frames for e in shown),
                role_calls=len(trace.steps),
            )
            trace.seconds = time.perf_counter() - ep.t0
        return self.traces
