"""The Verifier: window maths by hand, <|seg_start|>/<|seg_end|> inside the visual run (tokens and
rope ids), one batched forward equal to one candidate at a time, sigmoid vs the release's prob
score, re-ranking."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import pytest
import torch

from framescope.agent.agent import VideoMindAgent
from framescope.agent.common import role_budget, role_prompt
from framescope.agent.verifier import (
    Zoom,
    combine,
    insert_seg_tokens,
    rerank,
    score_candidates,
    seg_patches,
    verifier_prompt,
    zoom,
)
from framescope.errors import ConfigError
from framescope.methods import InferConfig, Sample
from framescope.models.backend import Segment
from framescope.models.engine import row_positions
from framescope.models.timestamp_head import Candidates
from framescope.types import Window
from framescope.video.probe import probe
from framescope.video.sampling import sample

from .conftest import FAST

W = Window


@pytest.mark.parametrize(
    ("candidate", "duration", "inner", "window"),
    [
        (W(5, 6), 20, W(4.5, 6.5), W(3.5, 7.5)),  # padded to 2 s, widened 1 s a side
        (W(4, 12), 20, W(4, 12), W(0, 16)),  # long enough: widened 4 s a side
        (W(0, 3), 20, W(0, 3), W(0, 4.5)),  # clamped at the start
        (W(19.5, 20), 20, W(18, 20), W(17, 20)),  # padding moves the centre inside
        (W(8, 6), 20, W(6, 8), W(5, 9)),  # reversed: swapped
        (W(25, 30), 20, W(18, 20), W(17, 20)),  # outside: clamped first
        (W(0.2, 0.4), 1.5, W(0, 1.5), W(0, 1.5)),  # a video shorter than 2 s
    ],
)
def test_zoom_window_by_hand(candidate: W, duration: float, inner: W, window: W) -> None:
    z = zoom(candidate, duration)
    assert z.candidate.to_list() == pytest.approx(inner.to_list())
    assert z.window.to_list() == pytest.approx(window.to_list())


def test_seg_patches_by_hand() -> None:
    z = Zoom(W(4.5, 6.5), W(3.5, 7.5))  # the candidate is the middle half of the window
    assert seg_patches(z, 4) == (1, 3)
    assert seg_patches(z, 2) == (0, 2)  # 0.5 → 0 and 1.5 → 2: Python's half-to-even, as released
    assert seg_patches(z, 5) == (1, 4)  # 1.25 → 1, 3.75 → 4
    assert seg_patches(Zoom(W(0, 3), W(0, 4.5)), 4) == (0, 3)  # 2.67 → 3
    assert seg_patches(Zoom(W(3, 3), W(3, 3)), 4) == (0, 0)


def test_insert_seg_tokens_by_hand() -> None:
    T, VS, V, VE, S, E = 1, 2, 9, 3, 5, 6
    prompt = Segment([T, T, VS, *[V] * 6, VE, T])  # 3 patches of 2 tokens
    got = insert_seg_tokens(prompt, VS, 2, (1, 3), (S, E))
    assert got.token_ids == [T, T, VS, V, V, S, V, V, V, V, E, VE, T]
    got = insert_seg_tokens(prompt, VS, 2, (0, 0), (S, E))
    assert got.token_ids == [T, T, VS, S, E, *[V] * 6, VE, T]
    got = insert_seg_tokens(prompt, VS, 2, (1, 2), (S, E))
    assert got.token_ids == [T, T, VS, V, V, S, V, V, E, V, V, VE, T]


def marked(backend: Any, path: str, cands: list[W], query: str) -> list[tuple[Segment, Any]]:
    """The verifier prompts the agent builds for ``cands`` (FAST sampling), with their blocks."""
    info, vm = probe(path), backend.videomind
    ids = vm.checkpoint.token_ids
    out = []
    for cand in cands:
        z = zoom(cand, info.duration)
        clip = sample(
            info,
            z.window,
            fps=FAST.verifier_fps,
            max_frames=FAST.verifier_max_frames,
            budget=role_budget(backend, *FAST.role_tokens),
        )
        prompt, block = role_prompt(backend, verifier_prompt(query), clip)
        t, h, w = block.segment.vision[0].grid_thw
        marks = seg_patches(z, t)
        seg = (ids.seg_start, ids.seg_end)
        prompt = insert_seg_tokens(prompt, backend.vision_start_id, h * w // 4, marks, seg)
        out.append((prompt, (marks, (t, h // 2, w // 2))))
    return out


CANDS = [W(6.5, 9.0), W(0, 3), W(12, 12.5), W(17, 20), W(2, 19)]


def test_seg_tokens_sit_inside_the_visual_run_with_the_release_positions(
    backend: Any, video: tuple
) -> None:
    ids = backend.videomind.checkpoint.token_ids
    for prompt, (marks, (t, hh, ww)) in marked(backend, str(video[0]), CANDS, "the square moves"):
        seq, per = prompt.token_ids, hh * ww
        first = seq.index(backend.vision_start_id) + 1
        s, e = seq.index(ids.seg_start), seq.index(ids.seg_end, first)
        assert s == first + marks[0] * per and e == first + 1 + marks[1] * per
        run = seq[first : seq.index(backend.vision_end_id)]
        assert len(run) == t * per + 2
        visual = [x for x in run if x not in (ids.seg_start, ids.seg_end)]
        assert visual == [backend.video_token_id] * (t * per)
        pos, _ = row_positions(backend, seq, prompt.vision)  # (3, L)
        base = int(pos[0, first - 1]) + 1  # the block starts one after <|vision_start|>
        if marks[0] == 0:  # the block opens with the marker: 4.45 read it all as text
            assert pos[:, first:].tolist() == [list(range(base, base + len(seq) - first))] * 3
            continue
        # the grid's t·h·w cells go to the run's first t·h·w tokens, markers included: the
        # start marker takes the first cell of patch marks[0]
        assert pos[:, s].tolist() == [base + marks[0], base, base]
        # the two tokens past the grid (the run's tail) and <|vision_end|> continue as text
        nxt = base + max(t - 1, hh - 1, ww - 1) + 1
        tail = first + t * per
        assert pos[:, tail : tail + 3].tolist() == [[nxt, nxt + 1, nxt + 2]] * 3


def test_batched_scores_equal_one_at_a_time(backend: Any, video: tuple) -> None:
    prompts = [p for p, _ in marked(backend, str(video[0]), CANDS, "the square moves")]
    yes_no = (backend.encode_text("Yes")[0], backend.encode_text("No")[0])
    batched = score_candidates(backend, prompts, yes_no)
    single = [score_candidates(backend, [p], yes_no)[0] for p in prompts]
    assert batched == pytest.approx(single, abs=1e-4)
    assert len(set(batched)) == len(batched)  # each candidate scored on its own clip


def test_agent_scores_top5_in_one_batch_and_reranks(backend: Any, video: tuple) -> None:
    """The agent's verifier steps hold exactly the scores of its 5 marked prompts."""
    path = str(video[0])
    agent = VideoMindAgent(replace(FAST, force_reg=True))
    (trace,) = agent.run(
        backend, [Sample("a", path, "the square moves")], InferConfig(max_new_tokens=2)
    )
    g, steps = trace.steps[0], [s for s in trace.steps if s.role == "verifier"]
    top = g.candidates[:5]
    assert [s.candidates[0] for s in steps] == top and len(steps) == 5
    assert {s.adapter for s in steps} == {"verifier"} and len({s.seconds for s in steps}) == 1
    prompts = [p for p, _ in marked(backend, path, top, "the square moves")]
    yes_no = (backend.encode_text("Yes")[0], backend.encode_text("No")[0])
    want = score_candidates(backend, prompts, yes_no)
    assert [s.scores[0] for s in steps] == pytest.approx(want, abs=1e-5)
    order = sorted(range(5), key=lambda k: -want[k])
    assert list(trace.answer.windows) == [top[k] for k in order]
    assert list(trace.answer.scores) == pytest.approx([want[k] for k in order], abs=1e-5)
    for s in steps:  # each candidate was decoded alone, around itself
        z = zoom(s.candidates[0], trace.duration)
        assert s.evidence is not None and s.evidence.window == z.window


def test_sigmoid_of_logits_vs_the_release_probabilities(backend: Any, video: tuple) -> None:
    lp = torch.log(torch.tensor([[0.9, 0.05], [0.001, 0.6], [0.3, 0.3]]))
    assert combine(lp) == pytest.approx([0.9 / 0.95, 0.001 / 0.601, 0.5])
    sig = 1 / (1 + math.exp(-0.85))
    assert combine(lp, "prob") == pytest.approx([sig, 1 / (1 + math.exp(0.599)), 0.5])
    extreme = torch.log_softmax(torch.tensor([[30.0, -30.0, 0.0], [-30.0, 30.0, 0.0]]), -1)[:, :2]
    lo, hi = 1 / (1 + math.e), 1 / (1 + math.exp(-1))
    assert combine(extreme) == pytest.approx([1.0, 0.0], abs=1e-9)  # logits: the full range
    assert combine(extreme, "prob") == pytest.approx([hi, lo], abs=1e-9)  # stuck in [0.27, 0.73]
    with pytest.raises(ConfigError):
        combine(lp, "softmax")
    # through the agent: the flag changes the score, not the clips or the order of evidence
    path, runs = str(video[0]), {}
    for score in ("logit", "prob"):
        agent = VideoMindAgent(replace(FAST, verifier_score=score, route=("grounder", "verifier")))
        (trace,) = agent.run(backend, [Sample("a", path, "q")], InferConfig(max_new_tokens=2))
        runs[score] = [s.scores[0] for s in trace.steps if s.role == "verifier"]
    assert all(lo <= x <= hi for x in runs["prob"]) and runs["prob"] != runs["logit"]


def test_rerank_is_stable() -> None:
    cands = Candidates([W(0, 1), W(1, 2), W(2, 3), W(3, 4)], [0.9, 0.8, 0.7, 0.6])
    got = rerank(cands, [0.5, 0.9, 0.5, 0.1])
    assert got.windows == [W(1, 2), W(0, 1), W(2, 3), W(3, 4)]
    assert got.scores == [0.9, 0.5, 0.5, 0.1]
