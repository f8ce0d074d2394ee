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


def test_released_aggregation_scales_each_group_by_its_own_std():
    """The release (TRL ``normalize_then_sum``, ``scale_rewards="group"``): each reward
    normalised per group, the weighted sums normalised per group again. Two asymmetric groups of
    three (a batch std would mix them and give other numbers): weights 0.5 and 1.0."""
    rewards = T(
        [[1.0, 0.0], [0.0, 0.0], [0.0, 1.0], [0.2, 1.0], [0.4, 1.0], [0.9, 1.0]],
        dtype=torch.float64,  # as the trainer's reward table
    )
    weights = T([0.5, 1.0], dtype=torch.float64)
    # group 1: (1, 0, 0) and (0, 0, 1) have mean 1/3, std sqrt(1/3): z = ±(2/3 or 1/3) / d1
    d1 = math.sqrt(1 / 3) + EPS
    sums1 = [0.5 * (2 / 3) / d1 - (1 / 3) / d1, -0.5 * (1 / 3) / d1 - (1 / 3) / d1]
    sums1.append(-0.5 * (1 / 3) / d1 + (2 / 3) / d1)  # = (0, -1.5, 1.5) / (3·d1)
    s1 = math.sqrt(sum(x * x for x in sums1) / 2)  # their mean is 0
    # group 2: (0.2, 0.4, 0.9) has mean 0.5, std sqrt(0.13); the second reward is flat: 0
    d2 = math.sqrt(0.13) + EPS
    sums2 = [0.5 * x / d2 for x in (-0.3, -0.1, 0.4)]
    s2 = math.sqrt(sum(x * x for x in sums2) / 2)
    expected = [x / (s1 + EPS) for x in sums1] + [x / (s2 + EPS) for x in sums2]
    got = decoupled_advantages(rewards, weights, 3)
    assert got.tolist() == pytest.approx(expected, rel=1e-12)
    assert rollout_advantages(rewards, weights, 3).tolist() == pytest.approx(expected, rel=1e-12)
    batch = T(sums1 + sums2, dtype=torch.float64)  # the rule this replaced: one std over the batch
    assert not torch.allclose(got, batch / (batch.std() + EPS), atol=1e-3)
    # sum_then_normalize: one combined reward, group-normalised
    combined = rewards @ weights
    assert torch.allclose(
        rollout_advantages(rewards, weights, 3, "sum_then_normalize"), group_normalize(combined, 3)
    )
    assert torch.equal(
        decoupled_advantages(torch.ones(6, 2).double(), weights, 3), torch.zeros(6).double()
    )
    with pytest.raises(ValueError, match="aggregation"):
        rollout_advantages(rewards, weights, 3, "mean")


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
