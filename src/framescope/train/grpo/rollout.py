"""SD-GRPO rollouts through the retrieval loop inference uses (DynFrame, span-density retrieval).

A rollout is one run of :func:`framescope.retrieval.loop.run_batch` — the same
:class:`~framescope.retrieval.loop.RetrievalSession` and token engine as ``framescope infer`` —
sampled at the config's temperature / top-p / top-k / repetition penalty. What training needs is
read off the engine's row and the session's trace, never recomputed:

- the full token sequence (prompt, sampled tokens, spliced clips and notes) and its vision inputs,
  for the teacher-forced forward that recomputes the policy's log-probs;
- the per-token mask (1 sampled, 0 injected) and the log-prob of each sampled token at sampling
  time (the old policy);
- the text the policy sampled — its sampled tokens decoded, without the runtime's clips, notes
  and prefills — which the rewards read: a rejection note quotes tags
  (``[retrieval rejected: </fps> without <fps>]``), and runtime text must not move the policy's
  reward (``Trace.response`` keeps the whole turn for people);
- the retrieval boundary: the sampled token that ends the first request — the token right before
  the runtime's first injection after the prompt (a clip or a rejection note); when nothing was
  injected, the first sampled ``</fps>`` token (a request written as the last allowed token is
  never served but is still scored), else -1.

Rollouts of one prompt are generated together as one engine batch, so a rollout depends only on
its prompt, its seed (the config seed, the step, the prompt and the rollout index) and the
weights — not on how prompts are spread over processes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from framescope.data.dynframe import DMRLRecord
from framescope.errors import FramescopeError
from framescope.models.backend import VisionInput
from framescope.models.engine import Engine
from framescope.models.hf import HFBackend
from framescope.retrieval.grammar import FPS_CLOSE
from framescope.retrieval.loop import run_batch
from framescope.settings import InferConfig
from framescope.train.config import TrainConfig
from framescope.types import Sample, Trace
from framescope.video.cache import FrameCache


@dataclass
class Rollout:
    """One sampled episode of one prompt."""

    prompt: int  # index of the record among the training records
    tokens: list[int]  # the full sequence: prompt, then generated (sampled and injected)
    mask: list[int]  # per generated token: 1 sampled, 0 injected
    logprobs: list[float]  # per generated token: log-prob at sampling (0 where injected)
    vision: list[VisionInput]  # every vision block in the sequence, in order
    boundary: int  # generated-token index ending the first request, -1 if none
    trace: Trace
    text: str  # the sampled tokens decoded, nothing the runtime injected (what rewards read)

    @property
    def prompt_len(self) -> int:
        return len(self.tokens) - len(self.mask)


def infer_config(cfg: TrainConfig, cache: FrameCache | None = None) -> InferConfig:
    """The loop's settings for rollouts: sampling, budgets and the prompt video from the config."""
    g = cfg.grpo
    assert g is not None
    return InferConfig(
        max_new_tokens=g.max_new_tokens,
        sampling=g.sampling,
        seed=cfg.seed,
        budgets=g.retrieval,
        overview_fps=cfg.video.fps,
        overview_max_frames=cfg.video.max_frames,
        batch_size=g.group_size,
        frame_cache=cache,
    )


def boundary(mask: Sequence[int], tokens: Sequence[int], fps_close: int | None) -> int:
    """The generated-token index of the sampled token that ends the first request (see the
    module docstring); ``mask``/``tokens`` are the generated part only."""
    for k in range(1, len(mask)):
        if mask[k] == 0 and mask[k - 1] == 1:
            return k - 1
    if fps_close is not None:
        for k, (m, t) in enumerate(zip(mask, tokens)):
            if m == 1 and t == fps_close:
                return k
    return -1


def generate_group(
    engine: Engine,
    record: DMRLRecord,
    index: int,
    step: int,
    config: InferConfig,
    group_size: int,
) -> list[Rollout]:
    """``group_size`` rollouts of one DM-RL prompt through the retrieval loop."""
    backend = engine.backend
    samples = [
        Sample(f"step{step}/prompt{index}/rollout{g}", str(record.video), record.question)
        for g in range(group_size)
    ]
    session, rows = run_batch(engine, samples, config)
    broken = [t for t in session.traces if t.error]
    if broken:
        raise FramescopeError(f"rollout of {record.video}: {broken[0].error}")
    close = backend.encode_text(FPS_CLOSE)
    fps_close = close[0] if len(close) == 1 else None
    out = []
    for row, episode in zip(rows, session.episodes):
        generated = row.tokens[row.prompt_len :]
        mask = row.mask[row.prompt_len :]
        sampled = iter(row.logprobs)
        logprobs = [next(sampled) if m else 0.0 for m in mask]
        out.append(
            Rollout(
                prompt=index,
                tokens=list(row.tokens),
                mask=list(mask),
                logprobs=logprobs,
                vision=[v for _, v in row.vision],
                boundary=boundary(mask, generated, fps_close),
                trace=episode.trace,
                text=backend.decode([t for t, m in zip(generated, mask) if m]),
            )
        )
    return out


def generate(
    backend: HFBackend,
    records: Sequence[DMRLRecord],
    indices: Sequence[int],
    step: int,
    config: InferConfig,
    group_size: int,
) -> list[Rollout]:
    """Rollouts of every prompt in ``indices`` (records by index), prompt-major: the
    ``group_size`` rollouts of a prompt are consecutive."""
    engine = Engine(backend, continuation=config.continuation)
    out: list[Rollout] = []
    for i in indices:
        out += generate_group(engine, records[i], i, step, config, group_size)
    return out
