"""Advantages for GRPO and SD-GRPO (DynFrame's segment-decoupled GRPO) as pure tensor functions.

Shapes: ``N = B·G`` rollouts, ``B`` prompts with ``G`` rollouts each, stored prompt-major (the
``G`` rollouts of prompt ``b`` are rows ``b·G … b·G + G − 1``); ``K`` reward functions; ``L``
token positions.

Per rollout (``(N,)``):

- :func:`group_normalize` — ``(r − mean_group) / (std_group + eps)``; ``std`` is the sample
  standard deviation (Bessel's correction, as ``torch.std`` and TRL), ``eps = 1e-4`` (TRL). A group
  whose rewards are all equal gets exactly 0 (no signal, and no rounding noise blown up by eps).
- :func:`trajectory_advantages` — one combined reward, group-normalised (GRPO; TRL's
  ``multi_objective_aggregation="sum_then_normalize"``).
- :func:`decoupled_advantages` — each reward group-normalised on its own, then the weighted sum
  group-normalised again: the released DynFrame trainer (``multi_objective_aggregation=
  "normalize_then_sum"`` with ``scale_rewards="group"``: the sums minus their group mean, divided
  by their group's std + 1e-4). SD-GRPO scales each segment's sum the same way, per group: a
  prompt whose rollouts all retrieve alike does not shrink another prompt's retrieval signal, and
  the retrieval and answer advantages of a group both come out at unit scale.

Per token (``(N, L)``), :func:`token_advantages`:

- ``"trajectory"`` — every sampled token gets its rollout's advantage (the released baseline);
- ``"segment"`` — SD-GRPO: tokens up to and including the token that ends the **first**
  ``</fps>`` get the retrieval advantage, later tokens the answer advantage. A rollout that never
  retrieves gets the retrieval advantage on all its tokens (computed with retrieval reward 0).

Injected tokens (mask 0: prompt, vision blocks, runtime notes) always get 0. Why these choices
for the cases the paper leaves open is in :mod:`framescope.train.grpo` (package docstring).
"""

from __future__ import annotations

import torch

EPS = 1e-4  # added to the std (TRL)
KINDS = ("trajectory", "segment")
AGGREGATIONS = ("normalize_then_sum", "sum_then_normalize")


def group_normalize(rewards: torch.Tensor, group_size: int, eps: float = EPS) -> torch.Tensor:
    """``(rewards − group mean) / (group std + eps)``; ``rewards`` (N,) -> (N,)."""
    if rewards.dim() != 1 or group_size < 1 or rewards.numel() % group_size:
        raise ValueError(
            f"rewards must be (B·G,) with G = {group_size} dividing it, got {tuple(rewards.shape)}"
        )
    r = rewards.view(-1, group_size)  # (B, G)
    if group_size == 1:  # no group to compare with
        return torch.zeros_like(rewards)
    mean = r.mean(dim=1, keepdim=True)  # (B, 1)
    std = r.std(dim=1, keepdim=True)  # (B, 1), Bessel
    adv = (r - mean) / (std + eps)  # (B, G)
    flat = r.max(dim=1, keepdim=True).values == r.min(dim=1, keepdim=True).values  # (B, 1)
    return torch.where(flat, torch.zeros_like(adv), adv).view(-1)


def trajectory_advantages(rewards: torch.Tensor, group_size: int, eps: float = EPS) -> torch.Tensor:
    """One group-normalised advantage per rollout; ``rewards`` (N,) -> (N,)."""
    return group_normalize(rewards, group_size, eps)


def decoupled_advantages(
    rewards: torch.Tensor, weights: torch.Tensor, group_size: int, eps: float = EPS
) -> torch.Tensor:
    """Normalise each reward per group, sum with ``weights``, normalise the sums per group.

    ``rewards`` (N, K), ``weights`` (K,) -> (N,). Both steps are :func:`group_normalize` (the
    release's ``scale_rewards="group"``), so a group whose sums are all equal gets 0.
    """
    if rewards.dim() != 2 or weights.shape != (rewards.shape[1],):
        raise ValueError(
            f"rewards must be (N, K) and weights (K,), got {tuple(rewards.shape)} and "
            f"{tuple(weights.shape)}"
        )
    per_reward = torch.stack(
        [group_normalize(rewards[:, k], group_size, eps) for k in range(rewards.shape[1])], dim=1
    )  # (N, K)
    summed = per_reward @ weights.to(per_reward.dtype)  # (N,)
    return group_normalize(summed, group_size, eps)


def rollout_advantages(
    rewards: torch.Tensor,
    weights: torch.Tensor,
    group_size: int,
    aggregation: str = "normalize_then_sum",
    eps: float = EPS,
) -> torch.Tensor:
    """Advantages of rollouts scored by ``K`` weighted rewards; ``rewards`` (N, K) -> (N,)."""
    if aggregation == "normalize_then_sum":
        return decoupled_advantages(rewards, weights, group_size, eps)
    if aggregation == "sum_then_normalize":
        return trajectory_advantages(rewards @ weights.to(rewards.dtype), group_size, eps)
    raise ValueError(f"aggregation must be one of {AGGREGATIONS}, got {aggregation!r}")


def first_boundary(ends: torch.Tensor) -> torch.Tensor:
    """Index of the first True per row, -1 where there is none; ``ends`` (N, L) bool -> (N,).

    ``ends`` marks the sampled tokens that complete a ``</fps>``; the first one is SD-GRPO's
    retrieval boundary. (The trainer takes each rollout's boundary from
    :func:`framescope.train.grpo.rollout.boundary` while generating; this is the batched form.)
    """
    if ends.dim() != 2:
        raise ValueError(f"ends must be (N, L), got {tuple(ends.shape)}")
    first = ends.to(torch.int8).argmax(dim=1)  # (N,) first maximum; 0 when a row has none
    return torch.where(ends.any(dim=1), first, torch.full_like(first, -1))


def token_advantages(
    kind: str,
    mask: torch.Tensor,
    boundary: torch.Tensor,
    rollout: torch.Tensor,
    retrieval: torch.Tensor | None = None,
) -> torch.Tensor:
    """Per-token advantages ``(N, L)``.

    ``mask`` (N, L): 1 = sampled by the policy, 0 = injected. ``boundary`` (N,) long: index of the
    token that ends the rollout's first ``</fps>`` (a sampled token), -1 when it never retrieves.
    ``rollout`` (N,): the whole rollout's advantage (``"trajectory"``) or its answer advantage
    (``"segment"``); ``retrieval`` (N,): the retrieval advantage (``"segment"`` only).
    """
    n, length = mask.shape
    if rollout.shape != (n,) or boundary.shape != (n,):
        raise ValueError(
            f"mask (N, L) = {tuple(mask.shape)} needs rollout and boundary of shape ({n},), got "
            f"{tuple(rollout.shape)} and {tuple(boundary.shape)}"
        )
    sampled = mask.to(rollout.dtype)  # (N, L)
    if kind == "trajectory":
        return rollout[:, None] * sampled
    if kind != "segment":
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if retrieval is None or retrieval.shape != (n,):
        raise ValueError(f"segment advantages need a retrieval advantage of shape ({n},)")
    if ((boundary < -1) | (boundary >= length)).any():
        raise ValueError(f"boundary must be -1 or a token index below {length}")
    retrieved = boundary >= 0  # (N,)
    at = boundary.clamp(min=0)
    if not bool((mask[torch.arange(n), at] > 0)[retrieved].all()):
        raise ValueError("a retrieval boundary points at an injected token; </fps> is sampled")
    positions = torch.arange(length, device=mask.device)[None, :]  # (1, L)
    # up to and including </fps>; a rollout without retrieval is all retrieval segment
    first_segment = (positions <= boundary[:, None]) | ~retrieved[:, None]  # (N, L)
    adv = torch.where(first_segment, retrieval[:, None], rollout[:, None])  # (N, L)
    return adv * sampled
