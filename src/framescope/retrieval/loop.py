"""The DynFrame retrieval loop (span-density retrieval, "DynFrame"), the one copy everything calls.

A batch of (video, question) samples: each prompt holds a uniform overview of its video; the
engine generates; when a row's text ends with ``</fps>`` the loop reads the request written since
the last splice (:func:`~framescope.retrieval.grammar.parse_request`), checks it against the
budgets (:func:`~framescope.retrieval.grammar.validate`), samples exactly that window at that
density with the video layer (frames capped, the backend's pixel budget), and splices the
family's timestamped vision block into the same assistant turn; generation continues from the
KV cache. A rejected request gets an in-band note instead. Rows end at a stop token
(``<|im_end|>``) or ``max_new_tokens``. The CLI, evaluation, RL rollouts and the server all call
:func:`run_loop`; the ``direct`` method is the same loop with retrieval off.

Every step is recorded in a :class:`~framescope.types.Trace`: generated text, the request, what
was fetched (timestamps, frame count, frame size, visual tokens), tokens in and out, timings,
and the answer read from ``<answer>…</answer>``.

**Deviations from the release** (DynFrame's code):

- continues from the KV cache after a splice (3-D rope positions of the full sequence) instead of
  re-running the whole sequence after each retrieval (``InferConfig.continuation="rerun"`` keeps
  the release's behaviour for comparison);
- generates a batch of samples at once (left padding) instead of one sample at a time;
- accepts any density ``0 < fps <= max_fps`` (fractions such as 0.5 included) instead of
  integers 1–30, and tolerant spellings of the numbers (see the grammar module);
- a malformed or over-budget request is recorded and answered in-band
  (``[retrieval rejected: …]``) instead of being ignored silently;
- a prefill (``Sample.prefill``) can force the start of the assistant turn, e.g. a first request;
  it is runtime text (mask 0), and the trace marks it as ``forced``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from framescope.errors import FramescopeError, ModelError
from framescope.models.backend import Backend, Segment
from framescope.models.engine import Engine, Hook, Injection, Row
from framescope.retrieval.grammar import (
    FPS_CLOSE,
    FPS_OPEN,
    SPAN_CLOSE,
    SPAN_OPEN,
    Accepted,
    InvalidRequest,
    Rejected,
    Used,
    parse_request,
    rejection_note,
    validate,
)
from framescope.settings import InferConfig
from framescope.subtitles import frame_lines, read_srt
from framescope.text import answer_region, choice, parse_spans
from framescope.types import LETTERS, Answer, Evidence, Sample, Step, Trace, Usage, Window
from framescope.video.cache import FrameCache
from framescope.video.probe import VideoInfo, probe
from framescope.video.sampling import (
    TEMPORAL_PATCH,
    PixelBudget,
    frame_count,
    sample,
    smart_resize,
)

# DynFrame's added vocabulary entries (``scripts/span_fps_tokens.json`` of the release)
REQUEST_TOKENS = (SPAN_OPEN, SPAN_CLOSE, FPS_OPEN, FPS_CLOSE)
CLIP_MARK = "<video>"  # stands for a spliced clip in Trace.response (DynFrame's data layout)


def prompt_text(sample: Sample, frame_times: Sequence[float] = ()) -> str:
    """The user text: the prompt (else the question), then the options as ``(A) …`` lines when
    there are any; with ``sample.subtitles``, first the subtitles of the frames shown at
    ``frame_times`` under Video-MME's heading (its "w/ subs" prompt)."""
    text = sample.prompt or sample.question
    if sample.options:
        lines = [f"({LETTERS[k]}) {opt}" for k, opt in enumerate(sample.options)]
        text += "\nOptions:\n" + "\n".join(lines)
    if sample.subtitles:
        subs = frame_lines(read_srt(sample.subtitles).cues, frame_times)
        text = "This video's subtitles are listed below:\n" + "".join(f"{x}\n" for x in subs) + text
    return text


def read_answer(response: str, options: Sequence[str] = ()) -> Answer:
    """The answer region (``<answer>…</answer>``, else after ``</think>``, else all), its option
    letter when the question had options, and the time spans it names."""
    letter = choice(response, LETTERS[: len(options)]).letter if options else None
    return Answer(answer_region(response).strip(), letter, parse_spans(response).windows)


def clip_cost(
    info: VideoInfo, budget: PixelBudget, max_frames: int
) -> Callable[[Window, float], int]:
    """``cost(window, fps)``: visual tokens the sampler's clip of ``window`` at ``fps`` will take
    (its frame count and frame size rules, applied without decoding)."""

    def cost(window: Window, fps: float) -> int:
        # frames inside the window, as the sampler counts them
        lo = np.searchsorted(info.timestamps, window.start, side="left")
        hi = np.searchsorted(info.timestamps, window.end, side="right")
        n, _ = frame_count(
            window.duration,
            fps=fps,
            num_frames=None,
            available=max(int(hi - lo), 1),
            min_frames=2,
            max_frames=max_frames,
        )
        h, w = smart_resize(
            info.height, info.width, budget.factor, budget.min_pixels, budget.frame_max_pixels(n)
        )
        return (n // TEMPORAL_PATCH) * (h // budget.factor) * (w // budget.factor)

    return cost


@dataclass(frozen=True)
class Spliced:
    """What the loop appends after a request: the clip's block (``evidence`` set) or the in-band
    note of a rejection (``reason`` and ``note`` set)."""

    segment: Segment
    evidence: Evidence | None = None
    reason: str = ""
    note: str = ""


def splice(
    backend: Backend,
    info: VideoInfo,
    decision: Accepted | Rejected,
    max_frames: int,
    budget: PixelBudget,
    cache: FrameCache | None = None,
) -> Spliced:
    """The tokens spliced after a validated request: the accepted window sampled at its density
    (at most ``max_frames``, frames sized by ``budget``) as the family's vision block, or the
    rejection note. The one copy of the splice: the loop and the SFT collator both call it."""
    if isinstance(decision, Accepted):
        try:
            clip = sample(
                info,
                decision.window,
                fps=decision.fps,
                max_frames=max_frames,
                budget=budget,
                cache=cache,
            )
            block = backend.encode_clip(clip)
        except FramescopeError as e:
            decision = Rejected(decision.request, f"the window could not be fetched: {e}")
        else:
            notes = decision.notes + block.evidence.notes
            return Spliced(block.segment, replace(block.evidence, notes=notes))
    note = rejection_note(decision.reason)
    return Spliced(Segment(backend.encode_text(note)), reason=decision.reason, note=note)


@dataclass
class _Episode:
    sample: Sample
    info: VideoInfo
    trace: Trace
    prompt_len: int
    seg_start: int  # first token of the current segment (a prefill belongs to it)
    t0: float
    used: Used = field(default_factory=Used)
    handled: int = -1  # row length at the last request handled


class RetrievalSession:
    """The loop's state for one batch: prompts for the engine, the hook that serves requests,
    and the traces once the engine is done. :func:`run_loop` composes it with the engine."""

    def __init__(
        self,
        backend: Backend,
        samples: Sequence[Sample],
        config: InferConfig,
        retrieval: bool = True,
        method: str = "dynframe",
    ) -> None:
        self.backend = backend
        self.config = config
        self.retrieval = retrieval
        self.budget = backend.pixel_budget()
        self.cache = config.frame_cache if config.frame_cache is not None else FrameCache()
        self.traces: list[Trace] = []
        self.episodes: list[_Episode] = []
        self.prompts: list[Segment] = []
        self.seeds: list[int] = []
        for s in samples:
            t0 = time.perf_counter()
            trace = Trace(
                id=s.id,
                method=method,
                video=s.video,
                question=s.question,
                options=tuple(s.options),
                budgets=config.budgets.report() if retrieval else None,
            )
            self.traces.append(trace)
            try:
                info = probe(s.video)
                overview = sample(
                    info,
                    fps=config.overview_fps,
                    max_frames=config.overview_max_frames,
                    budget=self.budget,
                    cache=self.cache,
                )
                text = prompt_text(s, overview.timestamps)
                prompt, blocks = backend.build_prompt(text, [overview], config.system)
            except FramescopeError as e:
                trace.error = str(e)
                trace.seconds = time.perf_counter() - t0
                continue
            trace.duration = info.duration
            trace.overview = blocks[0].evidence
            used = Used(0, blocks[0].evidence.visual_tokens)
            prefill = Segment(backend.encode_text(s.prefill) if s.prefill else [])
            self.episodes.append(_Episode(s, info, trace, len(prompt), len(prompt), t0, used))
            self.prompts.append(prompt + prefill)
            self.seeds.append(config.sample_seed(s.id))

    # ---------------------------------------------------------------- hook

    def _requested(self, ep: _Episode, row: Row) -> bool:
        """Does the row end with ``</fps>`` that has not been served yet?"""
        if not self.retrieval or ep.handled == len(row.tokens):
            return False
        tail = self.backend.decode(row.tokens[max(ep.seg_start, len(row.tokens) - 8) :], False)
        return tail.endswith(FPS_CLOSE)

    def _segment(self, ep: _Episode, row: Row) -> tuple[str, str, int, int]:
        """Text, forced text, sampled and injected token counts of the current segment."""
        tokens, mask = row.tokens[ep.seg_start :], row.mask[ep.seg_start :]
        forced = [t for t, m in zip(tokens, mask) if m == 0]
        return self.backend.decode(tokens), self.backend.decode(forced), sum(mask), len(forced)

    def hook(self, index: int, row: Row) -> Injection | None:
        """Engine hook: serve a request the row just finished writing."""
        ep = self.episodes[index]
        if not self._requested(ep, row):
            return None
        ep.handled = len(row.tokens)
        text, forced, sampled, injected = self._segment(ep, row)
        request = parse_request(text)
        decision = validate(
            request,
            ep.info.duration,
            self.config.budgets,
            ep.used,
            clip_cost(ep.info, self.budget, self.config.budgets.max_frames),
        )
        fetch_start = time.perf_counter()
        step = Step(text=text, forced=forced, tokens_out=sampled, tokens_in=injected)
        if isinstance(request, InvalidRequest):
            step.reason = request.reason
        else:
            step.request = request
        served = splice(
            self.backend, ep.info, decision, self.config.budgets.max_frames, self.budget, self.cache
        )
        segment = served.segment
        if served.evidence is not None:
            step.evidence = served.evidence
            step.status, step.injected = "fetched", CLIP_MARK
            ev = served.evidence
            ep.used = Used(ep.used.rounds + 1, ep.used.visual_tokens + ev.visual_tokens)
        else:
            step.status, step.reason, step.injected = "rejected", served.reason, served.note
        step.fetch_seconds = time.perf_counter() - fetch_start
        step.tokens_in += len(segment)
        step.elapsed = time.perf_counter() - ep.t0
        ep.trace.steps.append(step)
        ep.seg_start = len(row.tokens) + len(segment)
        return Injection(segment)

    # ---------------------------------------------------------------- traces

    def finish(self, rows: Sequence[Row]) -> list[Trace]:
        """Close every episode with its final segment and answer; traces in sample order."""
        for ep, row in zip(self.episodes, rows):
            text, forced, sampled, injected = self._segment(ep, row)
            trace = ep.trace
            trace.steps.append(
                Step(
                    text=text,
                    forced=forced,
                    tokens_out=sampled,
                    tokens_in=injected,
                    elapsed=time.perf_counter() - ep.t0,
                )
            )
            trace.response = "".join(s.text + s.injected for s in trace.steps)
            trace.answer = read_answer(trace.response, ep.sample.options)
            trace.stop_reason = row.stop_reason
            frames = (trace.overview.frames if trace.overview else 0) + sum(
                e.frames for e in trace.evidence
            )
            trace.usage = Usage(
                prompt_tokens=ep.prompt_len,
                generated_tokens=row.sampled,
                injected_tokens=len(row.tokens) - ep.prompt_len - row.sampled,
                visual_tokens=ep.used.visual_tokens,
                frames=frames,
                rounds=ep.used.rounds,
                rejected=sum(s.status == "rejected" for s in trace.steps),
            )
            trace.seconds = time.perf_counter() - ep.t0
        return self.traces


def scripted(backend: Backend, hook: Hook, texts: Sequence[str], every: int) -> Hook:
    """Wrap ``hook`` so that a row that has sampled ``every`` tokens in a row is forced to write
    the next of ``texts`` (runtime tokens, mask 0) — e.g. a retrieval request, which ``hook`` then
    serves. For benchmarks and tests that need a fixed number of retrievals from a model that
    would not ask by itself (random weights); each row goes through ``texts`` once, in order."""
    done: dict[int, int] = {}

    def wrapped(index: int, row: Row) -> Injection | None:
        injection = hook(index, row)
        if injection is not None:
            return injection
        k = done.get(index, 0)
        if k >= len(texts) or len(row.mask) < every or 0 in row.mask[-every:]:
            return None
        done[index] = k + 1
        return Injection(Segment(backend.encode_text(texts[k])))

    return wrapped


def run_loop(
    backend: Backend,
    samples: Sequence[Sample],
    config: InferConfig = InferConfig(),
    retrieval: bool = True,
    method: str = "dynframe",
) -> list[Trace]:
    """Run the loop over ``samples`` in batches of ``config.batch_size``; one trace per sample,
    in order (a sample whose video cannot be read gets a trace with ``error``)."""
    engine = Engine(backend, continuation=config.continuation)
    traces: list[Trace] = []
    size = config.batch_for(backend.device)
    for k in range(0, len(samples), size):
        session, _ = run_batch(engine, samples[k : k + size], config, retrieval, method)
        traces += session.traces
    return traces


def check_request_tokens(backend: Backend) -> None:
    """Refuse a model whose tokenizer lacks DynFrame's tokens: it was never taught to request,
    and ``</fps>`` would be several BPE pieces, so whether a request is even noticed would depend
    on how the text happens to split (a stock base: DynFrame's SFT adds the tokens)."""
    missing = [t for t in REQUEST_TOKENS if len(backend.encode_text(t)) != 1]
    if missing:
        raise ModelError(
            f"the model's tokenizer has no {' '.join(missing)} token(s): --method dynframe needs "
            "a DynFrame checkpoint (its SFT adds them: framescope train sft, method dynframe)"
        )


def run_batch(
    engine: Engine,
    samples: Sequence[Sample],
    config: InferConfig,
    retrieval: bool = True,
    method: str = "dynframe",
) -> tuple[RetrievalSession, list[Row]]:
    """One batch through the loop: the finished session (traces in sample order) and the engine's
    rows (token ids, per-token mask, log-probs; one per readable sample, in
    ``session.episodes`` order). RL rollouts use the rows; everything else the traces."""
    if retrieval:
        check_request_tokens(engine.backend)
    session = RetrievalSession(engine.backend, samples, config, retrieval, method)
    rows = engine.generate(
        session.prompts,
        max_new_tokens=config.max_new_tokens,
        sampling=config.sampling,
        seeds=session.seeds,
        hook=session.hook,
    )
    session.finish(rows)
    return session, rows
