"""Advantages by hand: group normalisation, the released aggregation, per-token masks and
SD-GRPO's segments (one retrieval, none, several)."""

from __future__ import annotations

import math

import pytest
import torch

from framescope.train.grpo.advantages import (
    EPS,
    decoupled_advantages,
    first_boundary,
    group_normalize,
    rollout_advantages,
    token_advantages,
    trajectory_advantages,
)

T = torch.tensor


def test_group_normalize_by_hand():
    # group 1: mean 0.25, sample std sqrt((0.75² + 3·0.25²) / 3) = 0.5; group 2: all equal
    adv = group_normalize(T([1.0, 0.0, 0.0, 0.0, 2.0, 2.0, 2.0, 2.0]), group_size=4)
    d = 0.5 + EPS
    assert adv.tolist() == pytest.approx([0.75 / d, -0.25 / d, -0.25 / d, -0.25 / d, 0, 0, 0, 0])
    assert (adv[4:] == 0).all()  # exactly zero, not rounding noise
    assert torch.equal(trajectory_advantages(T([0.3, 0.3, 0.3]), 3), torch.zeros(3))
    assert torch.equal(group_normalize(T([1.0, 5.0]), 1), torch.zeros(2))  # no group
    with pytest.raises(ValueError, match="dividing"):
        group_normalize(T([1.0, 2.0, 3.0]), 2)


def test_released_aggregation_normalize_then_sum_by_hand():
    # two prompts x two rollouts; rewards accuracy (w 0.6) and fps (w 0.3)
    rewards = T([[1.0, 0.0], [0.0, 1.0], [0.5, 1.0], [0.5, 0.0]])
    weights = T([0.6, 0.3])
    x = 0.5 / (math.sqrt(0.5) + EPS)  # a two-rollout group's normalised value
    summed = [0.6 * x - 0.3 * x, -0.6 * x + 0.3 * x, 0.3 * x, -0.3 * x]
    a = 0.3 * x
    batch_std = math.sqrt(4 * a * a / 3)  # mean 0, Bessel over 4
    expected = [s / (batch_std + EPS) for s in summed]
    assert decoupled_advantages(rewards, weights, 2).tolist() == pytest.approx(expected)
    assert rollout_advantages(rewards, weights, 2).tolist() == pytest.approx(expected)
    # sum_then_normalize: one combined reward, group-normalised
    combined = rewards @ weights
    assert torch.allclose(
        rollout_advantages(rewards, weights, 2, "sum_then_normalize"), group_normalize(combined, 2)
    )
    assert torch.equal(decoupled_advantages(torch.ones(4, 2), weights, 2), torch.zeros(4))
    with pytest.raises(ValueError, match="aggregation"):
        rollout_advantages(rewards, weights, 2, "mean")


def test_first_boundary():
    ends = T([[0, 0, 1, 0, 1], [0, 0, 0, 0, 0], [1, 0, 0, 0, 0]]).bool()
    assert first_boundary(ends).tolist() == [2, -1, 0]


def test_trajectory_tokens_get_the_rollout_advantage_injected_get_zero():
    mask = T([[0, 0, 1, 1, 0, 1], [1, 1, 1, 1, 1, 1]])
    adv = token_advantages("trajectory", mask, T([3, -1]), T([2.0, -0.5]))
    assert adv.tolist() == [[0, 0, 2, 2, 0, 2], [-0.5] * 6]


def test_segment_advantages_by_hand():
    # positions:    0  1  2  3  4  5  6  7
    mask = T(
        [
            [0, 0, 1, 1, 1, 0, 0, 1],  # prompt, "…</fps>" ends at 4, clip 5-6, answer at 7
            [0, 0, 1, 1, 1, 1, 1, 0],  # never retrieves
            [0, 1, 1, 0, 0, 1, 1, 1],  # retrieves twice: </fps> at 2 and at 6
        ]
    )
    ends = T([[0, 0, 0, 0, 1, 0, 0, 0], [0] * 8, [0, 0, 1, 0, 0, 0, 1, 0]]).bool()
    boundary = first_boundary(ends)
    assert boundary.tolist() == [4, -1, 2]
    retrieval, answer = T([1.5, -1.0, 0.25]), T([-0.5, 2.0, 0.75])
    adv = token_advantages("segment", mask, boundary, answer, retrieval)
    assert adv.tolist() == [
        [0, 0, 1.5, 1.5, 1.5, 0, 0, -0.5],
        [0, 0, -1.0, -1.0, -1.0, -1.0, -1.0, 0],  # all retrieval segment, answer not credited
        [0, 0.25, 0.25, 0, 0, 0.75, 0.75, 0.75],  # the later request belongs to the answer
    ]


def test_a_good_retrieval_is_not_punished_by_a_wrong_answer():
    # one prompt, two rollouts: A looks right and answers wrong, B looks wrong and answers right
    answer_rewards = T([[1.0, 0.0], [1.0, 1.0]])  # format, accuracy
    retrieval_rewards = T([[1.0, 1.0], [0.0, 0.6]])  # span IoU, fps
    mask = torch.ones(2, 4)
    boundary = T([1, 1])
    ans = rollout_advantages(answer_rewards, T([0.1, 0.6]), 2)
    ret = rollout_advantages(retrieval_rewards, T([0.3, 0.3]), 2)
    seg = token_advantages("segment", mask, boundary, ans, ret)
    assert (seg[0, :2] > 0).all() and (seg[0, 2:] < 0).all()  # A: retrieval up, answer down
    assert (seg[1, :2] < 0).all() and (seg[1, 2:] > 0).all()
    # the released trajectory advantage pushes all of A's tokens one way
    both = torch.cat([answer_rewards, retrieval_rewards[:, 1:]], dim=1)  # format, accuracy, fps
    traj = rollout_advantages(both, T([0.1, 0.6, 0.3]), 2)
    flat = token_advantages("trajectory", mask, boundary, traj)
    assert (flat[0] < 0).all() and (flat[1] > 0).all()


def test_bad_inputs_are_refused():
    mask = T([[0, 1, 1]])
    with pytest.raises(ValueError, match="injected token"):
        token_advantages("segment", mask, T([0]), T([1.0]), T([1.0]))
    with pytest.raises(ValueError, match="boundary must be"):
        token_advantages("segment", mask, T([3]), T([1.0]), T([1.0]))
    with pytest.raises(ValueError, match="retrieval advantage"):
        token_advantages("segment", mask, T([1]), T([1.0]))
    with pytest.raises(ValueError, match="kind"):
        token_advantages("tokens", mask, T([1]), T([1.0]))
    with pytest.raises(ValueError, match="shape"):
        token_advantages("trajectory", mask, T([1, 2]), T([1.0]))
