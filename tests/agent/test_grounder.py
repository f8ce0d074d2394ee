"""The Grounder on the tiny released-layout checkpoint: a forced or generated <|reg|> runs the
timestamp head (same moments as a direct forward pass), batched rows, fallback windows."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
import torch

from framescope.agent.agent import VideoMindAgent
from framescope.agent.common import role_budget, role_prompt
from framescope.agent.grounder import GROUNDER_REPLY, fallback_candidates, grounder_prompt
from framescope.methods import InferConfig, Sample
from framescope.models.backend import Segment
from framescope.models.engine import Sampling, pad_left
from framescope.models.head_features import pool_video_features
from framescope.models.timestamp_head import decode
from framescope.types import Window
from framescope.video.probe import probe
from framescope.video.sampling import sample

from .conftest import FAST


def direct_moments(backend: Any, video: str, query: str) -> tuple[list[Window], list[float]]:
    """What the head gives for the grounder's prompt + the forced reply, computed by hand: one
    forward pass over the whole sequence, the state before <|reg|> and the pooled video."""
    vm = backend.videomind
    info = probe(video)
    clip = sample(
        info,
        fps=FAST.grounder_fps,
        max_frames=FAST.grounder_max_frames,
        budget=role_budget(backend, *FAST.role_tokens),
    )
    prompt, _ = role_prompt(backend, grounder_prompt(query), clip)
    seq = prompt + Segment(backend.encode_text(GROUNDER_REPLY))
    padded = pad_left(backend, [seq])
    with vm.roles.use("grounder"):
        out = backend.forward(
            padded.input_ids,
            padded.attention_mask,
            padded.position_ids,
            padded.vision,
            logits_to_keep=1,
            pre_norm=True,
        )
    reg = seq.token_ids.index(vm.checkpoint.token_ids.reg)
    grid = torch.tensor([seq.vision[0].grid_thw])
    feats, mask = pool_video_features(
        out.pre_norm, padded.input_ids, grid, backend.video_token_id, backend.merge
    )
    (cands,) = decode(vm.head(feats, out.pre_norm[:, reg - 1], mask), [info.duration])
    return cands.windows, cands.scores


def test_forced_reg_runs_the_head(backend: Any, video: tuple) -> None:
    path = str(video[0])
    agent = VideoMindAgent(replace(FAST, force_reg=True, route=("grounder", "verifier")))
    samples = [Sample("a", path, "When does the square move?"), Sample("b", path, "A blink.")]
    traces = agent.run(backend, samples, InferConfig(max_new_tokens=2))
    duration = probe(path).duration
    for trace, s in zip(traces, samples):
        g = trace.steps[0]
        assert trace.error is None and g.role == "grounder" and g.adapter == "grounder"
        assert g.reason is None  # the head ran: no fallback
        assert g.forced == GROUNDER_REPLY and g.text.startswith(GROUNDER_REPLY)
        assert g.prompt == grounder_prompt(s.question.strip("."))
        want_windows, want_scores = direct_moments(backend, path, s.question.strip("."))
        assert len(g.candidates) == len(want_windows) > 1
        for got, want in zip(g.candidates, want_windows):
            assert got.start == pytest.approx(want.start, abs=1e-3)
            assert got.end == pytest.approx(want.end, abs=1e-3)
        assert g.scores == pytest.approx(want_scores, abs=1e-4)
        # ranked, in seconds, inside the video, start <= end
        assert g.scores == sorted(g.scores, reverse=True)
        assert all(0 <= w.start <= w.end <= duration for w in g.candidates)
        assert g.evidence is not None and g.evidence.window == Window(0.0, duration)
    assert traces[0].steps[0].candidates != traces[1].steps[0].candidates  # per-row queries


@pytest.mark.parametrize("sampling", [Sampling(), Sampling(temperature=1.0, top_p=0.9)])
def test_generated_reg_runs_the_head_greedy_or_sampled(
    reg_backend: Any, video: tuple, sampling: Sampling
) -> None:
    """A grounder that writes <|reg|> itself (the rigged checkpoint): every row of the batch gets
    moments from the head, whatever the sampling."""
    path = str(video[0])
    agent = VideoMindAgent(replace(FAST, route=("grounder", "verifier")))
    samples = [Sample(k, path, q) for k, q in (("a", "the mover"), ("b", "the blinker"))]
    config = InferConfig(max_new_tokens=2, sampling=sampling)
    for trace in agent.run(reg_backend, samples, config):
        g = trace.steps[0]
        reg = "<|reg|>"
        assert g.forced == "" and g.text.startswith(reg) and g.reason is None
        assert len(g.candidates) > 1 and g.scores == sorted(g.scores, reverse=True)


def test_reg_as_the_last_allowed_token_still_counts(reg_backend: Any, video: tuple) -> None:
    """max_new_tokens=1: the engine calls no hook after the last token; the capture reads it."""
    agent = VideoMindAgent(replace(FAST, route=("grounder", "verifier")))
    (trace,) = agent.run(
        reg_backend, [Sample("a", str(video[0]), "q")], InferConfig(max_new_tokens=1)
    )
    g = trace.steps[0]
    assert g.text == "<|reg|>" and g.reason is None and len(g.candidates) > 1


def test_fallback_windows() -> None:
    five = fallback_candidates(12.0, verify=True)
    assert [w.to_list() for w in five.windows] == [[0, 4], [2, 6], [4, 8], [6, 10], [8, 12]]
    assert five.scores == [0.0] * 5
    one = fallback_candidates(12.0, verify=False)
    assert [w.to_list() for w in one.windows] == [[0, 12]] and one.scores == [0.0]


@pytest.mark.parametrize("route", [("grounder", "verifier"), ("grounder", "verifier", "answerer")])
def test_no_reg_falls_back_as_released(backend: Any, video: tuple, route: tuple) -> None:
    """The random grounder writes no <|reg|>: five windows for the verifier to rank."""
    agent = VideoMindAgent(replace(FAST, route=route))
    (trace,) = agent.run(backend, [Sample("a", str(video[0]), "q")], InferConfig(max_new_tokens=3))
    g = trace.steps[0]
    assert "<|reg|>" not in g.text and g.reason == "no <|reg|>: the release's fallback windows"
    d = trace.duration
    assert [w.to_list() for w in g.candidates] == [[i * d / 6, (i + 2) * d / 6] for i in range(5)]
    verified = [s for s in trace.steps if s.role == "verifier"]
    assert [s.candidates[0] for s in verified] == g.candidates
    assert sorted(trace.answer.windows, key=lambda w: w.start) == g.candidates  # re-ranked


def test_no_reg_without_verifier_is_the_whole_video(ckpts: Any, video: tuple) -> None:
    from framescope.models.hf import load_backend

    only = load_backend(ckpts.released.ckpt, roles=["grounder"])
    (trace,) = VideoMindAgent(FAST).run(
        only, [Sample("a", str(video[0]), "q")], InferConfig(max_new_tokens=2)
    )
    assert [s.role for s in trace.steps] == ["grounder", "answerer"]
    assert trace.answer.windows == (Window(0.0, trace.duration),)
