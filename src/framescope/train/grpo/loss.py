"""The clipped policy loss of GRPO / SD-GRPO as a pure tensor function.

Per sampled token ``t`` of rollout ``i`` with ratio ``ρ = exp(logp − logp_old)`` and advantage
``A`` (already per token, so SD-GRPO's segments need nothing special here)::

    ℓ = −min(ρ·A, clip(ρ, 1 − ε_low, 1 + ε_high)·A) + β·KL_k3
    KL_k3 = exp(logp_ref − logp) − (logp_ref − logp) − 1       (Schulman's k3, ≥ 0)

Normalisation over tokens (``normalization``):

- ``"sequence"`` — the mean over each rollout's sampled tokens, then the mean over rollouts that
  have any (TRL's ``loss_type="grpo"``, the released DynFrame setting). Every rollout weighs the
  same, so a token of a long rollout weighs less.
- ``"token"`` — the sum over all sampled tokens divided by their number (one global token mean:
  TRL's ``"bnpo"`` within a batch, DAPO's token-level loss). Every token weighs the same.

Gradients flow only through ``logps``: old and reference log-probs and advantages are detached.
Masked (injected) tokens contribute nothing, whatever their values (they are zeroed before any
sum, so even ``inf`` there cannot leak into the loss). Deviation from TRL: ``"sequence"``
averages over rollouts with at least one sampled token (TRL counts empty ones as 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

NORMALIZATIONS = ("sequence", "token")


@dataclass(frozen=True)
class PolicyLoss:
    """The loss (a differentiable scalar) and what happened inside it (plain floats)."""

    loss: torch.Tensor
    clip_fraction: float  # sampled tokens whose clipped term was the smaller one
    clip_low: float  # … because ρ < 1 − ε_low with A < 0
    clip_high: float  # … because ρ > 1 + ε_high with A > 0
    kl: float  # mean k3 over sampled tokens (0 without a reference)
    ratio_mean: float  # mean ρ over sampled tokens
    tokens: int  # sampled tokens


def policy_loss(
    logps: torch.Tensor,
    old_logps: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    *,
    epsilon_low: float = 0.2,
    epsilon_high: float | None = None,
    beta: float = 0.0,
    ref_logps: torch.Tensor | None = None,
    normalization: str = "sequence",
) -> PolicyLoss:
    """Clipped surrogate + optional KL; every tensor is (N, L), ``mask`` 1 = sampled token.

    ``epsilon_high`` defaults to ``epsilon_low`` (symmetric clipping); ``beta > 0`` needs
    ``ref_logps``.
    """
    if not logps.shape == old_logps.shape == advantages.shape == mask.shape or logps.dim() != 2:
        raise ValueError(
            "logps, old_logps, advantages and mask must all be (N, L), got "
            f"{[tuple(t.shape) for t in (logps, old_logps, advantages, mask)]}"
        )
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
    if beta > 0 and ref_logps is None:
        raise ValueError("beta > 0 needs ref_logps")
    eps_high = epsilon_low if epsilon_high is None else epsilon_high
    m = mask > 0  # (N, L) bool
    w = m.to(logps.dtype)  # (N, L)
    # masked positions may hold anything (padding, inf): neutralise them before any arithmetic
    logp = torch.where(m, logps, torch.zeros_like(logps))
    old = torch.where(m, old_logps.detach(), torch.zeros_like(logps))
    adv = torch.where(m, advantages.detach().to(logps.dtype), torch.zeros_like(logps))

    ratio = torch.exp(logp - old)  # (N, L)
    clipped = torch.clamp(ratio, 1 - epsilon_low, 1 + eps_high)
    per_token = -torch.min(ratio * adv, clipped * adv)  # (N, L)
    kl = torch.zeros_like(logps)
    if ref_logps is not None:
        ref = torch.where(m, ref_logps.detach(), torch.zeros_like(logps))
        kl = torch.exp(ref - logp) - (ref - logp) - 1  # (N, L), k3
        if beta > 0:
            per_token = per_token + beta * kl

    count = w.sum()
    if normalization == "token":
        loss = (per_token * w).sum() / count.clamp(min=1)
    else:
        per_seq_tokens = w.sum(dim=1)  # (N,)
        per_seq = (per_token * w).sum(dim=1) / per_seq_tokens.clamp(min=1)  # (N,)
        has = per_seq_tokens > 0
        loss = (per_seq * has).sum() / has.sum().clamp(min=1)

    with torch.no_grad():
        low = (ratio < 1 - epsilon_low) & (adv < 0) & m
        high = (ratio > 1 + eps_high) & (adv > 0) & m
        n = max(int(count.item()), 1)
        stats = {
            "clip_low": low.sum().item() / n,
            "clip_high": high.sum().item() / n,
            "kl": (kl * w).sum().item() / n,
            "ratio_mean": (ratio * w).sum().item() / n,
        }
    return PolicyLoss(
        loss=loss,
        clip_fraction=stats["clip_low"] + stats["clip_high"],
        clip_low=stats["clip_low"],
        clip_high=stats["clip_high"],
        kl=stats["kl"],
        ratio_mean=stats["ratio_mean"],
        tokens=int(count.item()),
    )
