"""The token engine: batched generation with an explicit token state machine per row.

Each :class:`Row` holds its whole token sequence, a per-token mask (1 = sampled by the model,
0 = injected by the runtime: prompt, vision blocks, forced prefills, in-band notes), the vision
inputs of its blocks and how many of its tokens the KV cache already holds. Tokens past that
count are the row's queue: every step feeds each live row's queue (the last sampled token, or a
whole injected segment) in one forward pass, samples one token per row from the last position,
and hands the row to the caller's ``hook``, which may queue more tokens (a clip after
``</fps>``, a note) or finish the row. That hook is where the retrieval loop intervenes.

Batching: rows share one ``DynamicCache``. Each step's chunk is left-padded per row (rows with
fewer new tokens get attention-mask zeros *inside* the sequence), so the cache holds padding
columns between real tokens; attention ignores them and the logits equal an unpadded run (tested).
Finished rows are dropped from the cache (``batch_select_indices``).

Positions: explicit 3-D rope ids from :func:`framescope.models.rope.rope_index` on each row's
full unpadded sequence (the reference rule); a chunk with a vision block (or a fresh prefill)
takes its slice of the full-sequence computation, a text-only chunk continues at the next free
id, which is the same rule without recomputing the prefix. Only the new blocks' pixels are passed.

``continuation="rerun"`` drops the cache after every injected clip and re-feeds every row's full
sequence, as DynFrame's release does; it exists to check and benchmark the cache path against it.

Sampling: greedy at ``temperature=0``, else temperature / top-k / top-p with one
``torch.Generator`` per row seeded by the caller, so a row's draws do not depend on the batch it
is in. Log-probabilities of sampled tokens are recorded under ``softmax(logits / temperature)``
(temperature 1 when greedy), before penalties and filters: the distribution RL trains, as
DynFrame's trainer (TRL) computes its old and new log-probs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from framescope.errors import ModelError
from framescope.models.backend import Backend, Segment, VisionInput
from framescope.models.rope import rope_index
from framescope.settings import CONTINUATIONS, Sampling


@dataclass
class Injection:
    """Tokens (and their vision inputs) the runtime appends to a row; ``finish`` ends the row."""

    segment: Segment
    finish: bool = False


@dataclass
class Row:
    """One sequence being generated. ``tokens[:cached]`` are in the KV cache."""

    tokens: list[int]
    mask: list[int]  # 1 sampled, 0 injected
    vision: list[tuple[int, VisionInput]]  # (start of the segment holding the block, input)
    prompt_len: int
    generator: torch.Generator | None = None
    logprobs: list[float] = field(default_factory=list)  # one per sampled token
    cached: int = 0
    next_pos: int = 0  # next free rope id after the cached tokens
    stop_reason: str | None = None  # "stop" token, "length", "hook"
    # (n, H) last decoder layer's output before the final norm over the row's last fed chunk
    # (tokens[cached - n : cached]); kept only by Engine(pre_norm=True), e.g. for a <|reg|> head
    states: torch.Tensor | None = None

    @classmethod
    def start(cls, prompt: Segment, generator: torch.Generator | None = None) -> Row:
        row = cls([], [], [], len(prompt), generator)
        row.inject(prompt)
        return row

    @property
    def done(self) -> bool:
        return self.stop_reason is not None

    @property
    def sampled(self) -> int:
        return len(self.logprobs)

    def inject(self, segment: Segment) -> None:
        """Queue ``segment`` as runtime tokens (mask 0)."""
        start = len(self.tokens)
        self.tokens += segment.token_ids
        self.mask += [0] * len(segment.token_ids)
        # blocks in order; the rope step matches each grid to its tokens, so the start is enough
        self.vision += [(start, v) for v in segment.vision]

    def push(self, token: int, logprob: float) -> None:
        self.tokens.append(token)
        self.mask.append(1)
        self.logprobs.append(logprob)

    @property
    def generated(self) -> list[int]:
        """Everything after the prompt (sampled and injected)."""
        return self.tokens[self.prompt_len :]


# hook(row index, row) → tokens to queue, or None to let the row go on as it is
Hook = Callable[[int, Row], Injection | None]


@dataclass
class Batch:
    """Rows sharing one cache; ``live[b]`` is the row at batch position ``b``."""

    rows: list[Row]
    live: list[int]
    cache: Any
    attention: torch.Tensor  # (len(live), L): 1 where the cache holds a real token


@dataclass
class Padded:
    """Full sequences left-padded into one batch, with positions and vision inputs."""

    input_ids: torch.Tensor  # (B, L)
    attention_mask: torch.Tensor  # (B, L)
    position_ids: torch.Tensor  # (3, B, L)
    vision: list[VisionInput]


def row_positions(
    backend: Backend, tokens: Sequence[int], vision: Sequence[VisionInput]
) -> tuple[torch.Tensor, int]:
    """3-D positions ``(3, L)`` of one full unpadded sequence and the next free id."""
    ids = torch.tensor([list(tokens)], dtype=torch.long)
    grids = torch.tensor([v.grid_thw for v in vision], dtype=torch.long) if vision else None
    seconds = [v.seconds_per_patch for v in vision] if vision else None
    pos, delta = rope_index(backend.rope, ids, video_grid_thw=grids, second_per_grid_ts=seconds)
    return pos[:, 0], int(delta[0, 0]) + len(tokens)


def pad_left(backend: Backend, segments: Sequence[Segment]) -> Padded:
    """Left-pad full sequences into one batch (for re-runs and training: every row ends at the
    same column, so generation can continue from the batch)."""
    return _pad(backend, segments, left=True)


def pad_right(backend: Backend, segments: Sequence[Segment]) -> Padded:
    """Right-pad full sequences into one batch, attention mask all ones. Causal attention never
    lets a real token see the trailing pads, so no padding mask is needed and attention keeps its
    fast causal kernels (a left-padding mask costs ~2x in PyTorch's CPU attention); each row's
    last real token is at ``len(segment) - 1``. For one-shot scoring only."""
    padded = _pad(backend, segments, left=False)
    return Padded(
        padded.input_ids, torch.ones_like(padded.attention_mask), padded.position_ids, padded.vision
    )


def _pad(backend: Backend, segments: Sequence[Segment], left: bool) -> Padded:
    if not segments or any(len(s) == 0 for s in segments):
        raise ModelError("need at least one non-empty sequence")
    length = max(len(s) for s in segments)
    ids = torch.full((len(segments), length), backend.pad_token_id, dtype=torch.long)
    mask = torch.zeros(len(segments), length, dtype=torch.long)
    pos = torch.zeros(3, len(segments), length, dtype=torch.long)
    for b, seg in enumerate(segments):
        cols = slice(length - len(seg), length) if left else slice(0, len(seg))
        ids[b, cols] = torch.tensor(seg.token_ids)
        mask[b, cols] = 1
        pos[:, b, cols] = row_positions(backend, seg.token_ids, seg.vision)[0]
    return Padded(ids, mask, pos, [v for s in segments for v in s.vision])


def score_next_tokens(
    backend: Backend, prompts: Sequence[Segment], candidate_token_ids: Sequence[int]
) -> torch.Tensor:
    """One batched forward pass: log-probabilities ``(B, K)`` of ``candidate_token_ids`` as the
    next token after each prompt (e.g. a Verifier's "Yes"/"No"). Rows are right-padded
    (:func:`pad_right`); logits are computed only at the rows' last real positions."""
    padded = pad_right(backend, prompts)
    lengths = [len(p) for p in prompts]
    last = sorted({n - 1 for n in lengths})  # the distinct last positions: logits only there
    out = backend.forward(
        padded.input_ids,
        padded.attention_mask,
        padded.position_ids,
        padded.vision,
        logits_to_keep=torch.tensor(last),
    )
    rows = torch.arange(len(prompts))
    cols = torch.tensor([last.index(n - 1) for n in lengths])
    logprobs = torch.log_softmax(out.logits[rows, cols].float(), dim=-1)  # (B, V)
    candidates = torch.tensor(list(candidate_token_ids), device=logprobs.device)
    return logprobs[:, candidates]


def sample_token(
    logits: torch.Tensor,
    sampling: Sampling,
    generator: torch.Generator | None,
    previous: Sequence[int] = (),
    banned: Sequence[int] = (),
) -> tuple[int, float]:
    """Choose a token from ``logits`` ``(V,)``; returns it and its log-probability under
    ``softmax(logits / temperature)`` (temperature 1 when greedy; no penalty, filter or ban: the
    tempered policy RL trains). ``previous``: the row's tokens so far,
    which a repetition penalty ``p`` makes less likely (logit / p if positive, × p if negative,
    as transformers does, before temperature and filtering). ``banned`` tokens are never chosen."""
    logits = logits.float()
    logprobs = torch.log_softmax(logits / (sampling.temperature or 1.0), dim=-1)
    if len(banned):
        logits = logits.index_fill(0, torch.tensor(list(banned), dtype=torch.long), float("-inf"))
    if sampling.repetition_penalty != 1.0 and len(previous):
        seen = torch.unique(torch.tensor(list(previous), dtype=torch.long))
        picked = logits[seen]
        p = sampling.repetition_penalty
        logits = logits.clone()
        logits[seen] = torch.where(picked < 0, picked * p, picked / p)
    if sampling.temperature == 0:
        token = int(torch.argmax(logits))
        return token, float(logprobs[token])
    scores = logits / sampling.temperature
    if sampling.top_k:
        kth = torch.topk(scores, min(sampling.top_k, scores.numel())).values[-1]
        scores = scores.masked_fill(scores < kth, float("-inf"))
    if sampling.top_p < 1:
        ordered, order = torch.sort(scores, descending=True)
        mass = torch.softmax(ordered, dim=-1).cumsum(-1)
        drop = mass - torch.softmax(ordered, dim=-1) >= sampling.top_p  # keep the first over p
        scores[order[drop]] = float("-inf")
    token = int(torch.multinomial(torch.softmax(scores, dim=-1), 1, generator=generator))
    return token, float(logprobs[token])


class Engine:
    """Batched generation over a :class:`~framescope.models.backend.Backend`."""

    def __init__(
        self, backend: Backend, continuation: str = "cache", pre_norm: bool = False
    ) -> None:
        """``pre_norm=True`` keeps each row's pre-norm states of its last fed chunk on
        ``Row.states`` for hooks that read hidden states (VideoMind's Grounder)."""
        if continuation not in CONTINUATIONS:
            raise ModelError(f"continuation must be one of {CONTINUATIONS}, got {continuation!r}")
        self.backend = backend
        self.continuation = continuation
        # Vision placeholders are never sampled: as text they would make the sequence claim a
        # vision block it does not have (3-D positions and the model's scatter would fail on it)
        self.banned = (backend.rope.image_token_id, backend.rope.video_token_id)
        self.pre_norm = pre_norm

    def start(self, rows: list[Row]) -> Batch:
        """A batch of ``rows`` with an empty cache (nothing fed yet)."""
        return Batch(rows, list(range(len(rows))), self.backend.new_cache(), self._empty(len(rows)))

    def _empty(self, n: int) -> torch.Tensor:
        return torch.zeros(n, 0, dtype=torch.long)

    def _chunk_positions(self, row: Row, n: int) -> torch.Tensor:
        """Positions ``(3, n)`` of the row's next ``n`` queued tokens (see module docstring)."""
        new_vision = any(start >= row.cached for start, _ in row.vision)
        if row.cached == 0 or new_vision:
            pos, row.next_pos = row_positions(self.backend, row.tokens, [v for _, v in row.vision])
            return pos[:, row.cached : row.cached + n]
        pos = torch.arange(row.next_pos, row.next_pos + n).expand(3, n)
        row.next_pos += n
        return pos

    def step(self, batch: Batch) -> torch.Tensor:
        """Feed every live row's queued tokens; returns the last position's logits ``(B, V)``."""
        rows = [batch.rows[i] for i in batch.live]
        chunks = [row.tokens[row.cached :] for row in rows]
        width = max(len(c) for c in chunks)
        if width == 0:
            raise ModelError("no queued tokens to feed")
        ids = torch.full((len(rows), width), self.backend.pad_token_id, dtype=torch.long)
        mask = torch.zeros(len(rows), width, dtype=torch.long)
        pos = torch.zeros(3, len(rows), width, dtype=torch.long)
        vision: list[VisionInput] = []
        for b, (row, chunk) in enumerate(zip(rows, chunks)):
            n = len(chunk)
            if n == 0:
                continue
            ids[b, width - n :] = torch.tensor(chunk)
            mask[b, width - n :] = 1
            pos[:, b, width - n :] = self._chunk_positions(row, n)
            vision += [v for start, v in row.vision if start >= row.cached]
            row.cached += n
        attention = torch.cat([batch.attention, mask], dim=1)  # (B, L + width)
        out = self.backend.forward(
            ids, attention, pos, vision, cache=batch.cache, pre_norm=self.pre_norm
        )
        if out.pre_norm is not None:
            for b, (row, chunk) in enumerate(zip(rows, chunks)):
                row.states = out.pre_norm[b, width - len(chunk) :]  # (n, H), padding dropped
        batch.attention = attention
        return out.logits[:, -1]  # (B, V)

    def _drop_finished(self, batch: Batch) -> None:
        keep = [b for b, i in enumerate(batch.live) if not batch.rows[i].done]
        if len(keep) == len(batch.live):
            return
        if keep:
            batch.cache.batch_select_indices(torch.tensor(keep, device=self.backend.device))
        batch.attention = batch.attention[keep]
        batch.live = [batch.live[b] for b in keep]

    def _rerun(self, batch: Batch) -> None:
        """Forget the cache: the next step re-feeds every live row's whole sequence."""
        batch.cache = self.backend.new_cache()
        batch.attention = self._empty(len(batch.live))
        for i in batch.live:
            batch.rows[i].cached = 0

    @staticmethod
    def _settle(index: int, row: Row, hook: Hook | None) -> bool:
        """Give the row to the hook until it queues nothing more; True if a clip was queued."""
        clip = False
        while hook is not None and not row.done:
            injection = hook(index, row)
            if injection is None:
                break
            row.inject(injection.segment)
            clip = clip or bool(injection.segment.vision)
            if injection.finish:
                row.stop_reason = "hook"
            elif not injection.segment.token_ids:
                break  # nothing queued: asking again would give the same answer
        return clip

    def generate(
        self,
        prompts: Sequence[Segment],
        *,
        max_new_tokens: int,
        sampling: Sampling = Sampling(),
        seeds: Sequence[int] | None = None,
        stop_token_ids: Sequence[int] | None = None,
        hook: Hook | None = None,
    ) -> list[Row]:
        """Generate for every prompt until a stop token, ``max_new_tokens`` sampled tokens, or the
        hook finishes the row. ``hook(i, row)`` is called after the prompt is queued and after
        every sampled token or injection while the row is live; what it returns is queued.
        ``seeds`` seed each row's sampler (default: its index)."""
        if not prompts:
            return []
        generators = [
            torch.Generator().manual_seed(int(seeds[i]) if seeds is not None else i)
            for i in range(len(prompts))
        ]
        rows = [Row.start(p, g) for p, g in zip(prompts, generators)]
        stops = set(stop_token_ids if stop_token_ids is not None else self.backend.stop_token_ids)
        for i, row in enumerate(rows):
            if max_new_tokens <= 0:
                row.stop_reason = "length"
            self._settle(i, row, hook)
        batch = self.start(rows)
        self._drop_finished(batch)
        while batch.live:
            logits = self.step(batch).cpu()  # (B, V)
            clip = False
            for b, i in enumerate(batch.live):
                row = rows[i]
                token, logprob = sample_token(
                    logits[b], sampling, row.generator, row.tokens, self.banned
                )
                row.push(token, logprob)
                if token in stops:
                    row.stop_reason = "stop"
                elif row.sampled >= max_new_tokens:
                    row.stop_reason = "length"
                else:
                    clip = self._settle(i, row, hook) or clip
            self._drop_finished(batch)
            if clip and self.continuation == "rerun" and batch.live:
                self._rerun(batch)
        return rows
