"""VideoMind's grounder head trained jointly with the LM loss ("VideoMind", Chain-of-LoRA agent).

The head (:class:`framescope.models.timestamp_head.TimestampHead`) reads the language model's
pre-norm hidden states of the same teacher-forced forward pass that gives the LM loss: the first
video's visual tokens pooled per temporal patch (:func:`~framescope.models.head_features.pool_video_features`)
and the state at the position that predicts ``<|reg|>``
(:func:`~framescope.models.head_features.reg_query_positions`). Its losses are
:func:`framescope.models.timestamp_head.losses` — focal (5.0), L1 (1.0), contrastive (0.05),
summed over the fuse layers as released — rescaled when ``grounder.*_weight`` differ from those.

:func:`predict` runs the trained grounder on a prompt (reply forced up to ``<|reg|>``) and decodes
ranked moments; the training demo scores them with :mod:`framescope.eval`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from framescope.data.collate import Batch
from framescope.models.head_features import pool_video_features, reg_query_positions
from framescope.models.hf import HFBackend
from framescope.models.timestamp_head import (
    FOCAL_WEIGHT,
    L1_WEIGHT,
    NCE_WEIGHT,
    Candidates,
    TimestampHead,
    decode,
    losses,
)
from framescope.models.videomind_ckpt import TOKEN_TEXT, TokenIds
from framescope.train.config import GrounderHeadConfig


def token_ids(backend: HFBackend) -> TokenIds:
    """VideoMind's ``<|reg|>``, ``<|seg_start|>``, ``<|seg_end|>`` ids in the backend's tokenizer."""
    ids = {}
    for name, text in TOKEN_TEXT.items():
        found = backend.encode_text(text)
        if len(found) != 1:
            from framescope.errors import ModelError

            raise ModelError(f"the tokenizer has no single token for {text}")
        ids[name] = found[0]
    return TokenIds(**ids)


def build_head(cfg: GrounderHeadConfig, backend: HFBackend, seed: int) -> TimestampHead:
    """A head for the backend's hidden size, initialised from ``seed`` (the caller's random state
    is left as it was), then loaded from ``cfg.init`` when set (a warm start's weights)."""
    text = backend.model.config.get_text_config()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        head = TimestampHead(
            text.hidden_size,
            dims=cfg.dim,
            act=getattr(text, "hidden_act", "silu"),
            heads=cfg.heads,
            num_layers=cfg.layers,
        )
    if cfg.init is not None:
        from framescope.models.videomind_ckpt import load_head_weights

        load_head_weights(cfg.init, head)
    return head.to(backend.device)


@dataclass
class HeadLossSums:
    """Weighted head losses summed over the batch's samples (divide by the sample count)."""

    focal: Tensor
    l1: Tensor
    contrastive: Tensor


def head_features(
    states: Tensor,
    input_ids: Tensor,
    batch: Batch,
    backend_ids: tuple[int, int, int],
    rows: Sequence[int] | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """``(video (B, T, H), mask (B, T), query (B, H))`` from pre-norm ``states`` (B, L, H).

    ``backend_ids`` = (video token id, spatial merge size, ``<|reg|>`` id); ``rows``: only these
    batch rows (grounder rows among a shared adapter's verifier rows; role rows hold one clip
    each), default all."""
    video_id, merge, reg_id = backend_ids
    vision = batch.vision
    if rows is not None:
        vision = [batch.vision[i] for i in rows]
        states, input_ids = states[list(rows)], input_ids[list(rows)]
    grids = torch.tensor([v.grid_thw for v in vision], device=states.device)
    video, mask = pool_video_features(states, input_ids, grids, video_id, merge)
    rows = torch.arange(len(input_ids), device=states.device)
    query = states[rows, reg_query_positions(input_ids, reg_id)]  # (B, H)
    return video, mask, query


def head_loss_sums(
    head: TimestampHead,
    video: Tensor,
    mask: Tensor,
    query: Tensor,
    spans: Sequence[Sequence[tuple[float, float]]],
    cfg: GrounderHeadConfig,
    generator: torch.Generator,
) -> HeadLossSums:
    """The head's losses over every fuse layer, weighted by ``cfg``, summed over samples."""
    outputs = head.forward_all(video, query, mask)
    targets = [torch.tensor(s, dtype=torch.float32) for s in spans]
    parts = losses(outputs, targets, generator=generator)  # weighted, mean over samples
    b = len(spans)
    return HeadLossSums(
        parts.focal * (cfg.focal_weight / FOCAL_WEIGHT) * b,
        parts.l1 * (cfg.l1_weight / L1_WEIGHT) * b,
        parts.contrastive * (cfg.contrastive_weight / NCE_WEIGHT) * b,
    )


@torch.no_grad()
def predict(head: TimestampHead, backend: HFBackend, batch: Batch, reg_id: int) -> list[Candidates]:
    """Ranked moments (seconds) for teacher-forced grounder rows (prompt + reply up to
    ``<|reg|>``): one forward pass of the backend (its active adapter), the head on its pre-norm
    states, then decoding."""
    out = backend.forward(
        batch.input_ids, batch.attention_mask, batch.position_ids, batch.vision, pre_norm=True
    )
    assert out.pre_norm is not None
    ids = batch.input_ids.to(backend.device)
    video, mask, query = head_features(
        out.pre_norm, ids, batch, (backend.video_token_id, backend.merge, reg_id)
    )
    result = head(video, query, mask)
    durations = [float(d) for d in batch.durations if d is not None]
    return decode(result, durations)
