"""The clipped policy loss by hand: ratio 1 at the first step, clipping on both sides, masked
tokens, the KL term, gradients only through the policy's log-probs."""

from __future__ import annotations

import math

import pytest
import torch

from framescope.train.grpo.loss import policy_loss

T = torch.tensor


def _close(t: torch.Tensor, expected) -> None:
    torch.testing.assert_close(t, T(expected, dtype=t.dtype))


def _logps(values) -> torch.Tensor:
    return T(values, dtype=torch.float64).requires_grad_(True)


def test_first_step_ratio_one_both_normalisations():
    logps = _logps([[-1.0, -2.0, -0.5], [-0.7, -9.0, -9.0]])
    adv = T([[1.0, -2.0, 0.5], [3.0, 0.0, 0.0]], dtype=torch.float64)
    mask = T([[1, 1, 1], [1, 0, 0]])
    out = policy_loss(logps, logps.detach(), adv, mask)  # per-rollout mean, then over rollouts
    assert out.loss.item() == pytest.approx((-(1 - 2 + 0.5) / 3 - 3.0) / 2)
    out.loss.backward()
    _close(logps.grad, [[-1 / 6, 2 / 6, -0.5 / 6], [-1.5, 0, 0]])
    assert (out.ratio_mean, out.clip_fraction, out.kl, out.tokens) == (1.0, 0.0, 0.0, 4)

    logps.grad = None
    out = policy_loss(logps, logps.detach(), adv, mask, normalization="token")
    assert out.loss.item() == pytest.approx(-(1 - 2 + 0.5 + 3) / 4)
    out.loss.backward()
    _close(logps.grad, [[-0.25, 0.5, -0.125], [-0.75, 0, 0]])


def test_clipping_on_both_sides():
    ratios = [1.5, 0.5, 0.5, 1.5]
    logps = _logps([[math.log(r) for r in ratios]])
    old = torch.zeros(1, 4, dtype=torch.float64)
    adv = T([[1.0, -1.0, 1.0, -1.0]], dtype=torch.float64)
    out = policy_loss(logps, old, adv, torch.ones(1, 4), epsilon_low=0.2, normalization="token")
    # -min(ρA, clip(ρ)A): 1.5·1 → 1.2 (clipped high); 0.5·-1 → -0.8 (clipped low);
    # 0.5·1 → 0.5 and 1.5·-1 → -1.5 unclipped (the pessimistic side)
    assert out.loss.item() == pytest.approx((-1.2 + 0.8 - 0.5 + 1.5) / 4)
    out.loss.backward()
    _close(logps.grad, [[0.0, 0.0, -0.5 / 4, 1.5 / 4]])
    assert (out.clip_low, out.clip_high, out.clip_fraction) == (0.25, 0.25, 0.5)
    assert out.ratio_mean == pytest.approx(1.0)
    # asymmetric: a wider upper bound lets the first token go to 1.28
    wide = policy_loss(
        logps, old, adv, torch.ones(1, 4), epsilon_low=0.2, epsilon_high=0.28, normalization="token"
    )
    assert wide.loss.item() == pytest.approx((-1.28 + 0.8 - 0.5 + 1.5) / 4)


def test_masked_tokens_contribute_nothing_whatever_they_hold():
    logps = _logps([[-1.0, math.inf, -0.5, math.nan]])
    old = T([[-1.2, -math.inf, -0.4, 7.0]], dtype=torch.float64)
    adv = T([[2.0, 1e9, -1.0, math.nan]], dtype=torch.float64)
    ref = T([[-1.0, math.nan, -0.5, -math.inf]], dtype=torch.float64)
    mask = T([[1, 0, 1, 0]])
    out = policy_loss(logps, old, adv, mask, beta=0.1, ref_logps=ref)
    clean = _logps([[-1.0, -0.5]])
    ref_out = policy_loss(
        clean, old[:, [0, 2]], adv[:, [0, 2]], torch.ones(1, 2), beta=0.1, ref_logps=ref[:, [0, 2]]
    )
    assert out.loss.item() == pytest.approx(ref_out.loss.item()) and math.isfinite(out.loss.item())
    out.loss.backward()
    ref_out.loss.backward()
    assert logps.grad[0, [1, 3]].tolist() == [0.0, 0.0]
    assert logps.grad[0, [0, 2]].tolist() == pytest.approx(clean.grad[0].tolist())
    assert out.tokens == 2


def test_kl_k3_by_hand():
    logps = _logps([[-1.0]])
    ref = logps.detach() - math.log(2)  # logp - ref = ln 2
    k3 = 0.5 + math.log(2) - 1  # exp(ref - logp) - (ref - logp) - 1
    out = policy_loss(
        logps, logps.detach(), torch.zeros(1, 1), torch.ones(1, 1), beta=0.02, ref_logps=ref
    )
    assert out.kl == pytest.approx(k3) and out.loss.item() == pytest.approx(0.02 * k3)
    out.loss.backward()
    assert logps.grad.item() == pytest.approx(
        0.02 * (1 - 0.5)
    )  # d k3 / d logp = 1 - exp(ref - logp)
    # the KL is reported without being added when beta is 0
    out0 = policy_loss(logps, logps.detach(), torch.zeros(1, 1), torch.ones(1, 1), ref_logps=ref)
    assert out0.kl == pytest.approx(k3) and out0.loss.item() == 0.0


def test_gradients_flow_only_through_the_policy_logps():
    logps = _logps([[-1.0, -2.0]])
    old = T([[-1.1, -1.9]], dtype=torch.float64, requires_grad=True)
    ref = T([[-1.0, -1.5]], dtype=torch.float64, requires_grad=True)
    adv = T([[1.0, -1.0]], dtype=torch.float64, requires_grad=True)
    out = policy_loss(logps, old, adv, torch.ones(1, 2), beta=0.5, ref_logps=ref)
    out.loss.backward()
    assert logps.grad is not None and old.grad is None and ref.grad is None and adv.grad is None


def test_refusals():
    x = torch.zeros(1, 2)
    with pytest.raises(ValueError, match="ref_logps"):
        policy_loss(x, x, x, x, beta=0.1)
    with pytest.raises(ValueError, match="normalization"):
        policy_loss(x, x, x, x, normalization="batch")
    with pytest.raises(ValueError, match=r"\(N, L\)"):
        policy_loss(x, x, torch.zeros(1, 3), x)
    empty = policy_loss(x.requires_grad_(True), x.detach(), x.detach(), torch.zeros(1, 2))
    assert empty.loss.item() == 0.0 and empty.tokens == 0
