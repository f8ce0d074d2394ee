"""The token engine: KV-cache continuation after a mid-turn splice equals a full re-run, left
padding inside chunks is invisible, sampling is seeded per row, stop conditions, the hook."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from framescope.errors import ConfigError, ModelError
from framescope.models.backend import Segment
from framescope.models.engine import (
    Engine,
    Injection,
    Row,
    Sampling,
    pad_left,
    sample_token,
)
from framescope.models.tiny import FAMILIES

from .conftest import clip_for

TOL = 1e-4


def prompts(be: Any) -> tuple[Segment, Segment]:
    """Two prompts of different lengths, each with an overview clip."""
    a, _ = be.build_prompt("What happens in the video?", [clip_for(be, 4, fps=0.5)])
    b, _ = be.build_prompt("Colour?", [clip_for(be, 6, fps=1.0, seed=2)])
    return a + Segment(be.encode_text("<think>look <span>6.5 - 9.0</span><fps>2</fps>")), b


@torch.no_grad()
def full_logits(be: Any, row: Row) -> torch.Tensor:
    """Logits ``(L, V)`` of the row's whole sequence in one unpadded, uncached pass."""
    seg = Segment(row.tokens, [v for _, v in row.vision])
    padded = pad_left(be, [seg])
    out = be.forward(
        padded.input_ids,
        padded.attention_mask,
        padded.position_ids,
        padded.vision,
        logits_to_keep=0,
    )
    return out.logits[0]


@pytest.mark.parametrize("family", FAMILIES)
def test_splice_mid_turn_continues_like_a_full_rerun(family: str, backends: dict) -> None:
    """Two left-padded rows; row 0 gets a clip spliced mid-turn while row 1 gets one token (so
    row 1's cache holds padding columns between real tokens). Every step's logits equal a full
    re-run of each row alone."""
    be = backends[family]
    engine = Engine(be)
    rows = [Row.start(p) for p in prompts(be)]
    batch = engine.start(rows)
    spliced = be.encode_clip(clip_for(be, 4, fps=2.0, start=6.5, seed=1)).segment
    for step in range(4):
        logits = engine.step(batch)  # (2, V)
        for b, row in enumerate(rows):
            assert (logits[b] - full_logits(be, row)[-1]).abs().max() < TOL, (step, b)
            row.push(int(logits[b].argmax()), 0.0)
        if step == 1:  # the splice: a clip and text after it, in the same assistant turn
            rows[0].inject(spliced + Segment(be.encode_text(" so")))
    assert batch.attention[1].eq(0).sum() > batch.attention[0].eq(0).sum()  # padding mid-row


@pytest.mark.parametrize("family", FAMILIES)
def test_generate_cache_equals_rerun_and_one_full_pass(family: str, backends: dict) -> None:
    """A hook splices a clip into each row after 3 sampled tokens. The cached run, the run that
    re-feeds everything after each splice (the release's way) and one forward pass over the
    final sequences agree on every sampled token's log-probability."""
    be = backends[family]
    clips = [be.encode_clip(clip_for(be, 4, fps=2.0, start=s, seed=3)).segment for s in (6.5, 1)]

    def hook(i: int, row: Row) -> Injection | None:
        if row.sampled == 3 and row.mask[-1] == 1:
            return Injection(clips[i])
        return None

    runs = {
        mode: Engine(be, continuation=mode).generate(
            prompts(be), max_new_tokens=8, stop_token_ids=(), hook=hook
        )
        for mode in ("cache", "rerun")
    }
    for cached, rerun in zip(runs["cache"], runs["rerun"]):
        assert cached.tokens == rerun.tokens and cached.mask == rerun.mask
        assert max(abs(a - b) for a, b in zip(cached.logprobs, rerun.logprobs)) < TOL
        assert cached.sampled == 8 and cached.stop_reason == "length"
        assert sum(1 for m in cached.mask if m == 0) == cached.prompt_len + len(clips[0])
        full = torch.log_softmax(full_logits(be, cached).float(), dim=-1)  # (L, V)
        sampled_at = [k for k, m in enumerate(cached.mask) if m == 1]
        for k, logprob in zip(sampled_at, cached.logprobs):
            assert abs(float(full[k - 1, cached.tokens[k]]) - logprob) < TOL


def test_batched_rows_match_single_rows(backends: dict) -> None:
    be = backends["qwen2_5_vl"]
    engine = Engine(be)
    a, b = prompts(be)
    together = engine.generate([a, b], max_new_tokens=6, stop_token_ids=())
    for prompt, row in zip((a, b), together):
        (alone,) = engine.generate([prompt], max_new_tokens=6, stop_token_ids=())
        assert alone.tokens == row.tokens
        assert max(abs(x - y) for x, y in zip(alone.logprobs, row.logprobs)) < TOL


def test_sampling_is_seeded_per_row(backends: dict) -> None:
    be = backends["qwen3_vl"]
    engine = Engine(be)
    a, b = prompts(be)
    hot = Sampling(temperature=1.5, top_p=0.95, top_k=50)

    def run(ps: list[Segment], seeds: list[int]) -> list[list[int]]:
        rows = engine.generate(ps, max_new_tokens=12, sampling=hot, seeds=seeds, stop_token_ids=())
        return [r.generated for r in rows]

    first = run([a, b], [7, 8])
    assert run([a, b], [7, 8]) == first  # same seeds, same draws
    assert run([b], [8]) == [first[1]]  # a row's draws do not depend on its batch
    assert run([a, b], [9, 10]) != first


def test_sample_token_filters() -> None:
    logits = torch.tensor([0.0, 5.0, 4.9, -3.0])
    expected = 5.0 - math.log(sum(math.exp(x) for x in (0.0, 5.0, 4.9, -3.0)))
    assert sample_token(logits, Sampling(), None) == (1, pytest.approx(expected, abs=1e-6))
    gen = torch.Generator().manual_seed(0)
    only_top = {sample_token(logits, Sampling(1.0, top_k=1), gen)[0] for _ in range(20)}
    assert only_top == {1}
    nucleus = {sample_token(logits, Sampling(1.0, top_p=0.6), gen)[0] for _ in range(50)}
    assert nucleus <= {1, 2} and 1 in nucleus
    with pytest.raises(ConfigError, match="bad sampling settings"):
        Sampling(temperature=-1)
    with pytest.raises(ConfigError, match="bad sampling settings"):
        Sampling(top_p=0)


def test_log_prob_is_the_tempered_policy() -> None:
    """At T = 0.7 the recorded log-prob is log softmax(logits / 0.7) — what RL recomputes — not
    the temperature-1 value; top-k and top-p change the draw, not the log-prob."""
    logits = torch.tensor([0.0, 5.0, 4.9, -3.0])
    gen = torch.Generator().manual_seed(0)
    tempered = torch.log_softmax(logits / 0.7, dim=0)
    for _ in range(20):
        token, logprob = sample_token(logits, Sampling(0.7, top_p=0.9, top_k=3), gen)
        assert logprob == pytest.approx(float(tempered[token]), abs=1e-6)
        assert logprob != pytest.approx(float(torch.log_softmax(logits, 0)[token]), abs=1e-3)


def test_stops_and_hook_finish(backends: dict) -> None:
    be = backends["qwen2_vl"]
    engine = Engine(be)
    a, b = prompts(be)
    (free,) = engine.generate([a], max_new_tokens=4, stop_token_ids=())
    first = free.generated[0]
    (stopped,) = engine.generate([a], max_new_tokens=4, stop_token_ids=[first])
    assert stopped.generated == [first] and stopped.stop_reason == "stop"

    def finish_after_two(i: int, row: Row) -> Injection | None:
        if row.sampled == 2:
            return Injection(Segment(be.encode_text("!")), finish=True)
        return None

    rows = engine.generate([a, b], max_new_tokens=9, stop_token_ids=(), hook=finish_after_two)
    assert [r.stop_reason for r in rows] == ["hook", "hook"]
    assert [r.sampled for r in rows] == [2, 2] and rows[0].mask[-1] == 0
    (none,) = engine.generate([a], max_new_tokens=0)
    assert none.generated == [] and none.stop_reason == "length"
    assert engine.generate([], max_new_tokens=3) == []
    with pytest.raises(ModelError, match="continuation"):
        Engine(be, continuation="replay")


def test_hook_sees_the_prompt_first(backends: dict) -> None:
    """A prefill that ends in a request is served before the model samples anything."""
    be = backends["qwen3_vl"]
    seen: list[tuple[int, int]] = []
    clip = be.encode_clip(clip_for(be, 2, fps=1.0, start=3.0)).segment

    def hook(i: int, row: Row) -> Injection | None:
        seen.append((i, row.sampled))
        return Injection(clip) if row.sampled == 0 and len(seen) == 1 else None

    (row,) = Engine(be).generate([prompts(be)[0]], max_new_tokens=2, stop_token_ids=(), hook=hook)
    assert seen[:2] == [(0, 0), (0, 0)]  # prompt, then after the clip it queued
    assert (
        row.vision[-1][0] == row.prompt_len and row.mask[: row.prompt_len + len(clip)].count(1) == 0
    )


def test_sample_token_repetition_penalty_and_banned_tokens() -> None:
    logits = torch.tensor([2.0, 1.9, -1.0, 0.5])
    policy = torch.log_softmax(logits, dim=0)
    # token 0 was seen: 2.0 / 1.5 < 1.9, so greedy takes token 1; the log-prob stays the policy's
    token, logprob = sample_token(logits, Sampling(repetition_penalty=1.5), None, [0, 0])
    assert token == 1 and logprob == pytest.approx(float(policy[1]))
    # penalty 5 on tokens 0-2: 2.0 -> 0.4, 1.9 -> 0.38, -1.0 -> -5.0 (negatives are multiplied)
    assert sample_token(logits, Sampling(repetition_penalty=5.0), None, [0, 1, 2])[0] == 3
    assert sample_token(logits, Sampling(), None, banned=[0])[0] == 1
    gen = torch.Generator().manual_seed(0)
    drawn = {sample_token(logits, Sampling(1.0), gen, banned=[0, 1])[0] for _ in range(50)}
    assert drawn <= {2, 3}
    with pytest.raises(ConfigError):
        Sampling(repetition_penalty=0.0)
