"""VideoMind's timestamp decoder: the Grounder's ``<|reg|>`` head, its decoding and its losses.

Implements the head of *VideoMind: A Chain-of-LoRA Agent for Temporal-Grounded Video Reasoning*
(Liu et al., arXiv 2503.13444) as released (``videomind/model/{model,blocks,loss,generator}.py``
on nncore 0.4). The module and parameter names are the release's — the three fuse layers are
nncore's ``TransformerEncoderLayer`` (``self_att.{q,k,v,m}``, ``self_att_norm``,
``ffn.mapping.{0,2}``, ``ffn_norm``), the rest ``blocks.py``'s — so its
``pytorch_model.safetensors`` (93 tensors, fp16, keys prefixed ``base_model.model.``) loads with
``strict=True`` once the prefix is stripped (:func:`strip_released_prefix`), and a fuse layer
computes bit for bit what nncore's does (tests load nncore's random layers into ours).

What the release does, and this module with it:

- Inputs: the language model's hidden states *before* its final RMSNorm. Video features = the
  first video's visual tokens average-pooled per temporal patch (one step per 2 frames, ``T``
  steps); query feature = the state at the position that predicts ``<|reg|>``. Both are taken
  by :mod:`framescope.models.head_features`.
- ``vis_proj`` / ``reg_proj``: LayerNorm + Linear(H→256); learned type embeddings
  (``vis_emb`` / ``reg_emb``); normalised sinusoidal positions on the video steps (position
  ``k/T·2π``, no parameters); 3 pre-norm transformer layers over ``[video; query]`` (8 heads,
  FFN ×4 with the LLM's activation — SiLU for Qwen2-VL — drop-path 0.1); ``vis_norm``.
- Pyramid, strides 1/2/4/8: stride ``2^k`` = ``k`` × (Conv1d(k=2, s=2) → LayerNorm → act) from
  full resolution, stride 1 = act alone; a level longer than ``T`` is skipped.
- Shared heads over every level: Conv1d(k3) → act → Conv1d(k3) with 1 output (logit) and 2
  outputs (``exp`` × a learnable per-level scale = left/right distance in stride units).
- Decoding: point ``t = 0, s, 2s, …`` gives ``[(t − l·s)/T, (t + r·s)/T]`` × duration, score =
  sigmoid(logit); greedy NMS at IoU 0.75 on the normalised spans; top 100; then clamped to the
  video and reversed pairs swapped.
- Losses: focal (γ 2, no α, weight 5.0) over valid points, mean per sample; positives by centre
  sampling (radius 1.5 × stride, intersected with the GT), the GT's largest side distance inside
  the level's range (0,2) (2,4) (4,8) (8,∞) in steps, the shortest GT winning; L1 on the
  positives' stride-normalised distances (weight 1.0); a frame-vs-query contrastive loss
  (cosine / τ 0.07, softmax over the frames whose saliency ≤ the sampled positive's, weight
  0.05). Training sums them over the outputs of *each* of the 3 fuse layers (deep supervision;
  :meth:`TimestampHead.forward_all`).

Deviations (each on purpose):

- Batches. The release runs one sample at a time; here video lengths may differ within a batch
  (``mask``): padded steps are masked out of attention, positions are normalised by each sample's
  own ``T``, a pyramid point is valid only if its window lies inside the sample, and invalid
  points read as zeros at both k3 convolutions. Each sample's output equals its unbatched output.
- The release's training pads ``T`` to 8 and counts partly padded pyramid windows as points;
  its inference does not pad. Training here uses the inference geometry (identical for T ≥ 8).
- NMS: the release keeps suppressed candidates in its list with score 0 (after the survivors);
  here they are dropped unless ``keep_suppressed=True`` (reproduces the release's list exactly).
- Non-finite outputs: a point whose span or score is NaN/inf is dropped at decoding; the release
  kept it in its list (NaN moments and scores downstream).
- Reversed pairs: the release swaps them with ``Tensor.roll(1)`` on the whole ``(k, 2)`` block,
  which mixes rows when more than one pair is reversed; here each row is swapped.
- The release's batch reduction keeps the head loss of *one* sample (the smaller of at most two)
  and raises on a sample without positives; here the head loss is the mean over samples and a
  sample without positives contributes no L1 term. One ``<|reg|>`` (one query) per sample; the
  release allowed several per sequence and divided by their count.
- The head runs on whatever features it is given; the release ran it only when the *greedy*
  argmax was ``<|reg|>``. Callers run it for every generated ``<|reg|>``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from framescope.errors import ModelError
from framescope.types import Window

RELEASED_PREFIX = "base_model.model."  # the release saved the head from inside its PeftModel
STRIDES = (1, 2, 4, 8)
REG_RANGES = ((0.0, 2.0), (2.0, 4.0), (4.0, 8.0), (8.0, math.inf))  # in temporal steps


# ----------------------------------------------------------------------------------- modules


class _Transpose(nn.Module):
    """(B, L, C) <-> (B, C, L) so convolutions sit between token-major layers."""

    def forward(self, x: Tensor) -> Tensor:
        return x.transpose(1, 2)


class _TypeEmbedding(nn.Module):
    """One learned vector added to every token of a stream (``weights``: (1, 1, D))."""

    def __init__(self, dims: int) -> None:
        super().__init__()
        self.weights = nn.Parameter(torch.randn(1, 1, dims) / dims**0.5)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.weights


class _Attention(nn.Module):
    """nncore's ``MultiHeadAttention`` (projections ``q k v m``; a key mask, no dropout)."""

    def __init__(self, dims: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v, self.m = (nn.Linear(dims, dims) for _ in range(4))

    def forward(self, x: Tensor, key_mask: Tensor) -> Tensor:
        b, n, d = x.shape  # key_mask: (B, N) bool, True = attend
        q, k, v = (
            proj(x).view(b, n, self.heads, d // self.heads).transpose(1, 2)
            for proj in (self.q, self.k, self.v)
        )
        # nncore's arithmetic, so a released decoder computes what it computed: scores /
        # sqrt(d_head), -inf on masked keys, softmax (fused SDPA differs by ~5e-6 in float32),
        # and the output projection reads a token-major (N, B, D) buffer as nncore's does (the
        # GEMM rounds differently on a batch-major one)
        scores = q @ k.transpose(-1, -2) / (d // self.heads) ** 0.5  # (B, heads, N, N)
        scores = scores.masked_fill(~key_mask[:, None, None, :], float("-inf"))
        out = scores.softmax(-1) @ v  # (B, heads, N, d_head)
        merged: Tensor = self.m(out.permute(2, 0, 1, 3).reshape(n, b, d).transpose(0, 1))
        return merged


class _FeedForward(nn.Module):
    """nncore's ``FeedForwardNetwork``: ``mapping`` = Linear → act → Linear (no dropout)."""

    def __init__(self, dims: int, ratio: int, act: str) -> None:
        super().__init__()
        self.mapping = nn.Sequential(
            nn.Linear(dims, dims * ratio), _activation(act), nn.Linear(dims * ratio, dims)
        )

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.mapping(x)
        return out


def drop_path(x: Tensor, p: float, training: bool) -> Tensor:
    """nncore's ``drop_path``: each sample's branch is kept with probability ``1 − p`` (scaled by
    ``1 / (1 − p)``), the draw being ``floor(1 − p + U[0, 1))`` — the same uniform draws as
    nncore, so a seeded run drops the same samples."""
    if p == 0 or not training:
        return x
    keep = 1 - p
    size = (x.shape[0],) + (1,) * (x.dim() - 1)
    return x / keep * (keep + torch.rand(size, dtype=x.dtype, device=x.device)).floor()


class _FuseLayer(nn.Module):
    """nncore 0.4's ``TransformerEncoderLayer`` as VideoMind builds it (pre-norm, 8 heads, FFN ×4,
    drop-path on both branches, no positional term): the same parameter names
    (``self_att.{q,k,v,m}``, ``self_att_norm``, ``ffn.mapping.{0,2}``, ``ffn_norm``) and, seeded
    alike, the same outputs in training and in eval mode (tested against nncore)."""

    def __init__(self, dims: int, heads: int, ratio: int, droppath: float, act: str) -> None:
        super().__init__()
        self.self_att = _Attention(dims, heads)
        self.self_att_norm = nn.LayerNorm(dims)
        self.ffn = _FeedForward(dims, ratio, act)
        self.ffn_norm = nn.LayerNorm(dims)
        self.droppath = droppath

    def forward(self, x: Tensor, key_mask: Tensor) -> Tensor:
        x = x + drop_path(
            self.self_att(self.self_att_norm(x), key_mask), self.droppath, self.training
        )
        return x + drop_path(self.ffn(self.ffn_norm(x)), self.droppath, self.training)


class _Pyramid(nn.Module):
    """``blocks[k]`` maps full-resolution features to stride ``strides[k]``."""

    def __init__(self, dims: int, strides: Sequence[int], act: str) -> None:
        super().__init__()
        self.blocks = nn.ModuleList()
        for stride in strides:
            depth = int(math.log2(stride))
            if 2**depth != stride:
                raise ModelError(f"pyramid strides must be powers of two, got {stride}")
            if depth == 0:
                self.blocks.append(_activation(act))  # the release's stride-1 level: act only
                continue
            layers: list[nn.Module] = []
            for _ in range(depth):
                layers += [
                    _Transpose(),
                    nn.Conv1d(dims, dims, 2, stride=2),
                    _Transpose(),
                    nn.LayerNorm(dims),
                    _activation(act),
                ]
            self.blocks.append(nn.Sequential(*layers))


class _ConvHead(nn.Module):
    """Conv1d(k3) → act → Conv1d(k3) over each level; ``module.1`` / ``module.3`` as released."""

    def __init__(self, dims: int, out_dims: int, act: str) -> None:
        super().__init__()
        self.module = nn.Sequential(
            _Transpose(),
            nn.Conv1d(dims, dims, 3, padding=1),
            _activation(act),
            nn.Conv1d(dims, out_dims, 3, padding=1),
            _Transpose(),
        )

    def forward(self, x: Tensor, valid: Tensor) -> Tensor:
        """``x``: (B, L, D), ``valid``: (B, L, 1). Points past a sample's end read as zeros at
        both convolutions, exactly like the zero padding an unpadded sample gets."""
        conv1, act, conv2 = self.module[1], self.module[2], self.module[3]
        hidden = act(conv1((x * valid).transpose(1, 2))) * valid.transpose(1, 2)
        out: Tensor = conv2(hidden).transpose(1, 2)
        return out


class _LevelScale(nn.Module):
    def __init__(self, levels: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(levels))


def _activation(name: str) -> nn.Module:
    acts: dict[str, type[nn.Module]] = {"silu": nn.SiLU, "gelu": nn.GELU, "relu": nn.ReLU}
    if name not in acts:
        raise ModelError(f"unsupported head activation {name!r}; expected one of {sorted(acts)}")
    return acts[name]()


def sinusoid_positions(mask: Tensor, dims: int) -> Tensor:
    """Normalised sinusoidal positions ``(B, T, dims)``: step ``k`` (1-based) of a sample with
    ``n`` valid steps sits at ``k / n · 2π``; channel pairs ``(sin, cos)`` at frequency
    ``10000^(-2i/dims)``. Padded steps get finite garbage (masked later)."""
    pos = mask.float().cumsum(1)  # (B, T): 1..n, then n on the padding
    pos = pos / (pos[:, -1:] + 1e-6) * (2 * math.pi)
    freq = 10000 ** (torch.arange(dims, device=mask.device) // 2 * 2 / dims)
    angles = pos[..., None] / freq  # (B, T, dims)
    return torch.stack((angles[..., 0::2].sin(), angles[..., 1::2].cos()), dim=-1).flatten(2)


# ------------------------------------------------------------------------------------ head


@dataclass
class HeadOutput:
    """Per-level predictions for a batch; lists are indexed by pyramid level (finest first).

    Level ``k`` has stride ``strides[k]`` and points ``t = 0, s, 2s, …`` in temporal steps.
    """

    logits: list[Tensor]  # each (B, L_k): classification logits
    distances: list[Tensor]  # each (B, L_k, 2): left/right distance in stride units (> 0)
    valid: list[Tensor]  # each (B, L_k) bool: the point exists for that sample
    strides: tuple[int, ...]
    video_emb: Tensor  # (B, T, D) fused, normed video steps (contrastive loss)
    query_emb: Tensor  # (B, D) fused, normed query
    lengths: Tensor  # (B,) valid steps per sample


class TimestampHead(nn.Module):
    """VideoMind's timestamp decoder (see the module docstring); parameter names as released."""

    def __init__(
        self,
        hidden_size: int,
        dims: int = 256,
        act: str = "silu",
        strides: Sequence[int] = STRIDES,
        heads: int = 8,
        ffn_ratio: int = 4,
        num_layers: int = 3,
        droppath: float = 0.1,
    ) -> None:
        super().__init__()
        self.hidden_size, self.dims, self.act = hidden_size, dims, act
        self.strides = tuple(strides)
        if len(self.strides) > len(REG_RANGES):
            raise ModelError(f"at most {len(REG_RANGES)} pyramid levels, got {self.strides}")
        self.vis_proj = nn.Sequential(nn.LayerNorm(hidden_size), nn.Linear(hidden_size, dims))
        self.reg_proj = nn.Sequential(nn.LayerNorm(hidden_size), nn.Linear(hidden_size, dims))
        self.vis_norm = nn.LayerNorm(dims)
        self.vis_fuse = nn.ModuleList(
            _FuseLayer(dims, heads, ffn_ratio, droppath, act) for _ in range(num_layers)
        )
        self.vis_emb = _TypeEmbedding(dims)
        self.reg_emb = _TypeEmbedding(dims)
        self.pyramid = _Pyramid(dims, self.strides, act)
        self.class_head = _ConvHead(dims, 1, act)
        self.coord_head = _ConvHead(dims, 2, act)
        self.coef = _LevelScale(len(self.strides))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Training-from-scratch init along the release's code path (the head is built inside
        the base model, whose ``_init_weights`` sets every Linear; its training script resets
        the convolutions): Linear N(0, 0.02), Conv1d Xavier-uniform, zero biases, LayerNorm
        (1, 0), type embeddings N(0, 1/D), level scales 1."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Conv1d):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)  # type: ignore[arg-type]  # built with bias
            elif isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        for emb in (self.vis_emb, self.reg_emb):
            nn.init.normal_(emb.weights, std=self.dims**-0.5)
        nn.init.ones_(self.coef.scale)

    def forward(self, video: Tensor, query: Tensor, mask: Tensor | None = None) -> HeadOutput:
        """Predictions from the last fuse layer (inference).

        ``video``: (B, T, H) pooled pre-norm states, ``query``: (B, H), ``mask``: (B, T) bool,
        True on real steps (padding at the end); ``None`` = all real.
        """
        return self._run(video, query, mask, all_layers=False)[0]

    def forward_all(
        self, video: Tensor, query: Tensor, mask: Tensor | None = None
    ) -> list[HeadOutput]:
        """Predictions from every fuse layer, each through ``vis_norm`` (the release's deep
        supervision: training losses are summed over these)."""
        return self._run(video, query, mask, all_layers=True)

    def _run(
        self, video: Tensor, query: Tensor, mask: Tensor | None, all_layers: bool
    ) -> list[HeadOutput]:
        b, t, h = video.shape
        if h != self.hidden_size or query.shape != (b, h):
            raise ModelError(
                f"head expects video (B, T, {self.hidden_size}) and query (B, {self.hidden_size}), "
                f"got {tuple(video.shape)} and {tuple(query.shape)}"
            )
        if mask is None:
            mask = torch.ones(b, t, dtype=torch.bool, device=video.device)
        mask = mask.bool()
        lengths = mask.sum(1)
        if bool((lengths == 0).any()) or not bool(
            (mask == (torch.arange(t, device=mask.device) < lengths[:, None])).all()
        ):
            raise ModelError("video mask must mark a non-empty prefix of steps in every sample")
        dtype = self.vis_emb.weights.dtype
        v = self.vis_emb(self.vis_proj(video.to(dtype)))  # (B, T, D)
        q = self.reg_emb(self.reg_proj(query.to(dtype))[:, None])  # (B, 1, D)
        x = torch.cat((v + sinusoid_positions(mask, self.dims).to(dtype), q), dim=1)
        key_mask = torch.cat((mask, mask.new_ones(b, 1)), dim=1)  # (B, T + 1)
        states = []
        for layer in self.vis_fuse:
            x = layer(x, key_mask)
            states.append(x)
        if not all_layers:
            states = states[-1:]
        return [self._levels(self.vis_norm(s), lengths) for s in states]

    def _levels(self, joint: Tensor, lengths: Tensor) -> HeadOutput:
        video_emb, query_emb = joint[:, :-1], joint[:, -1]  # (B, T, D), (B, D)
        t = video_emb.shape[1]
        logits, distances, valid = [], [], []
        strides = tuple(s for s in self.strides if s <= t)
        for i, stride in enumerate(strides):
            feats = self.pyramid.blocks[i](video_emb)  # (B, T // s, D)
            ok = torch.arange(feats.shape[1], device=feats.device) < (lengths // stride)[:, None]
            weight = ok[..., None].to(feats.dtype)  # (B, L, 1)
            logits.append(self.class_head(feats, weight)[..., 0])
            distances.append(self.coord_head(feats, weight).exp() * self.coef.scale[i])
            valid.append(ok)
        return HeadOutput(logits, distances, valid, strides, video_emb, query_emb, lengths)


def strip_released_prefix(state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
    """The release's head keys without their ``base_model.model.`` prefix (others unchanged)."""
    n = len(RELEASED_PREFIX)
    return {k[n:] if k.startswith(RELEASED_PREFIX) else k: v for k, v in state_dict.items()}


# -------------------------------------------------------------------------------- decoding


@dataclass
class Candidates:
    """Ranked moments for one sample, absolute seconds, best first."""

    windows: list[Window]
    scores: list[float]

    def to_tensor(self) -> Tensor:
        """``(K, 3)`` rows ``[start, end, score]``."""
        return torch.tensor(
            [[w.start, w.end, s] for w, s in zip(self.windows, self.scores)], dtype=torch.float32
        ).reshape(-1, 3)


def _spans(out: HeadOutput, i: int) -> tuple[Tensor, Tensor]:
    """Normalised spans (N, 2) and scores (N,) of sample ``i``'s valid points, all levels."""
    spans, scores = [], []
    n = float(out.lengths[i])
    for stride, logit, dist, ok in zip(out.strides, out.logits, out.distances, out.valid):
        keep = ok[i]
        t = (torch.arange(logit.shape[1], device=logit.device) * stride)[keep].float()
        d = dist[i][keep].float() * stride
        spans.append(torch.stack((t - d[:, 0], t + d[:, 1]), dim=1) / n)
        scores.append(logit[i][keep].float().sigmoid())
    return torch.cat(spans), torch.cat(scores)


def temporal_iou(one: Tensor, many: Tensor) -> Tensor:
    """IoU of span ``one`` (2,) with each row of ``many`` (N, 2); NaN for an empty union."""
    inter = (torch.minimum(one[1], many[:, 1]) - torch.maximum(one[0], many[:, 0])).clamp(min=0)
    return inter / ((one[1] - one[0]) + (many[:, 1] - many[:, 0]) - inter)


def nms(spans: Tensor, scores: Tensor, iou: float) -> tuple[Tensor, Tensor]:
    """Greedy NMS in the release's order: ``(order, suppressed)``.

    Candidates are visited best first; each suppresses (score → 0) every later one with IoU ≥
    ``iou`` (NaN IoU never suppresses). ``order`` lists survivors by score, then the suppressed
    ones in the order the release's in-place swaps leave them.
    """
    order = torch.argsort(scores, descending=True, stable=True)
    live = scores[order].clone()
    spans = spans[order]
    n = len(order)
    for i in range(n):
        j = i + int(torch.argmax(live[i:]))  # first maximum, as torch.argmax returns
        if live[j] <= 0:
            break  # only suppressed (zero) scores remain: the release's swaps no longer move them
        for arr in (order, live, spans):
            arr[[i, j]] = arr[[j, i]]
        if i + 1 < n:
            live[i + 1 :][temporal_iou(spans[i], spans[i + 1 :]) >= iou] = 0
    return order, live <= 0


def decode(
    out: HeadOutput,
    durations: Sequence[float],
    nms_iou: float = 0.75,
    top_k: int = 100,
    keep_suppressed: bool = False,
) -> list[Candidates]:
    """Ranked ``[start, end]`` moments in seconds per sample (see the module docstring).

    ``durations[i]`` is sample ``i``'s video length in seconds: spans are normalised by the
    sample's ``T`` and scaled by it, NMS runs on the normalised spans, then the top ``top_k``
    are clamped to ``[0, duration]`` and reversed pairs swapped. ``keep_suppressed=True``
    appends the suppressed candidates with score 0, as the release's list does.

    Points whose span or score is not finite (a head producing NaN or inf: the release's
    "NaN verifier scores" reports) are dropped before NMS, so no NaN reaches a trace or a
    metric; a sample left with none gets no candidates (the agent then answers from the whole
    video).
    """
    if len(durations) != len(out.lengths):
        raise ModelError(f"{len(durations)} durations for a batch of {len(out.lengths)}")
    results = []
    for i, duration in enumerate(durations):
        spans, scores = _spans(out, i)
        finite = torch.isfinite(spans).all(1) & torch.isfinite(scores)  # a NaN/inf head output
        spans, scores = spans[finite], scores[finite]
        order, suppressed = nms(spans, scores, nms_iou)
        final = scores[order].masked_fill(suppressed, 0.0)
        if not keep_suppressed:
            order, final = order[~suppressed], final[~suppressed]
        order, final = order[:top_k], final[:top_k]
        picked = (spans[order] * duration).clamp(min=0, max=duration)
        picked = torch.sort(picked, dim=1).values  # swaps each reversed pair, row by row
        results.append(
            Candidates([Window(float(s), float(e)) for s, e in picked.tolist()], final.tolist())
        )
    return results


# ---------------------------------------------------------------------------------- losses

FOCAL_WEIGHT, FOCAL_GAMMA = 5.0, 2.0
L1_WEIGHT = 1.0
NCE_WEIGHT, NCE_TAU = 0.05, 0.07
SAMPLE_RADIUS = 1.5


@dataclass
class HeadLosses:
    """Weighted head losses, mean over samples, summed over the fuse layers given."""

    focal: Tensor
    l1: Tensor
    contrastive: Tensor

    @property
    def total(self) -> Tensor:
        return self.focal + self.l1 + self.contrastive


def point_targets(out: HeadOutput, i: int, target: Tensor) -> tuple[Tensor, Tensor]:
    """Labels (N,) and stride-normalised distance targets (N, 2) for sample ``i``'s valid points
    (levels concatenated, as in :func:`_spans`); ``target`` (K, 2) = GT windows as fractions of
    the video. A point is positive when it lies within ``1.5 × stride`` of a GT's centre and
    inside that GT, and the GT's larger side distance is in the level's range; the shortest such
    GT is its target."""
    n = float(out.lengths[i])
    gt = target.float().reshape(-1, 2).to(out.lengths.device) * n  # (K, 2) in steps
    ts, strides, ranges = [], [], []
    for level, (stride, ok) in enumerate(zip(out.strides, out.valid)):
        count = int(ok[i].sum())
        ts.append(torch.arange(count, device=gt.device, dtype=torch.float32) * stride)
        strides.append(torch.full((count,), float(stride), device=gt.device))
        ranges.append(torch.tensor(REG_RANGES[level], device=gt.device).expand(count, 2))
    t, s, rng = torch.cat(ts)[:, None], torch.cat(strides)[:, None], torch.cat(ranges)
    left, right = t - gt[:, 0], gt[:, 1] - t  # (N, K)
    centre = gt.mean(1)
    inner_lo = torch.maximum(centre - s * SAMPLE_RADIUS, gt[:, 0])
    inner_hi = torch.minimum(centre + s * SAMPLE_RADIUS, gt[:, 1])
    reach = torch.maximum(left, right)
    eligible = (t >= inner_lo) & (t <= inner_hi) & (reach >= rng[:, :1]) & (reach <= rng[:, 1:])
    lengths = (gt[:, 1] - gt[:, 0]).expand_as(left).masked_fill(~eligible, math.inf)
    best_len, best = lengths.min(1)
    rows = torch.arange(len(best), device=gt.device)
    dists = torch.stack((left[rows, best], right[rows, best]), dim=1) / s
    return torch.isfinite(best_len).float(), dists


def saliency_from_windows(target: Tensor, length: int) -> Tensor:
    """(T,) 1.0 on the steps a GT covers (steps ``⌈s·T⌉ … ⌈e·T⌉ − 1``, as the release's data
    code marks them), else 0; a GT too short to cover a step marks the step holding its centre."""
    sal = torch.zeros(length)
    for s, e in target.reshape(-1, 2).tolist():
        lo, hi = math.ceil(max(0.0, s * length)), math.ceil(min(e * length, length))
        if hi > lo:
            sal[lo:hi] = 1
        else:
            sal[min(max(int((s + e) / 2 * length), 0), length - 1)] = 1
    return sal


def _focal(logits: Tensor, labels: Tensor) -> Tensor:
    p = logits.sigmoid()
    ce = F.binary_cross_entropy_with_logits(logits, labels, reduction="none")
    p_t = p * labels + (1 - p) * (1 - labels)
    return ce * (1 - p_t) ** FOCAL_GAMMA


def _contrastive(video: Tensor, query: Tensor, saliency: Tensor, pos: int) -> Tensor:
    """-log softmax at ``pos`` of cosine(step, query)/τ over steps with saliency ≤ pos's."""
    sim = F.cosine_similarity(video.float(), query.float()[None], dim=-1) / NCE_TAU  # (T,)
    sim = sim.masked_fill(saliency > saliency[pos], -math.inf)
    return -F.log_softmax(sim, dim=0)[pos]


def losses(
    outputs: HeadOutput | Sequence[HeadOutput],
    targets: Sequence[Tensor],
    positives: Sequence[int] | None = None,
    generator: torch.Generator | None = None,
) -> HeadLosses:
    """Focal + L1 + contrastive losses (weights 5.0 / 1.0 / 0.05) for a batch.

    ``outputs``: one :class:`HeadOutput` or the per-layer list of :meth:`forward_all` (summed
    over, as the release trains). ``targets[i]``: (K, 2) GT windows of sample ``i`` as fractions
    of its video. ``positives[i]``: the contrastive positive step; by default one step drawn
    uniformly (``generator``) from those a GT covers, the same for every layer.
    """
    outs = [outputs] if isinstance(outputs, HeadOutput) else list(outputs)
    b = len(outs[0].lengths)
    if len(targets) != b:
        raise ModelError(f"{len(targets)} targets for a batch of {b}")
    lengths = outs[0].lengths.tolist()
    sal = [saliency_from_windows(targets[i], n) for i, n in enumerate(lengths)]
    if positives is None:
        positives = []
        for s in sal:
            steps = s.nonzero()[:, 0]
            positives.append(int(steps[torch.randint(len(steps), (), generator=generator)]))
    focal, l1, nce = [], [], []
    for i in range(b):
        for out in outs:
            labels, dists = point_targets(out, i, targets[i])
            logits = torch.cat([lv[i][ok[i]] for lv, ok in zip(out.logits, out.valid)])
            pred = torch.cat([d[i][ok[i]] for d, ok in zip(out.distances, out.valid)])
            focal.append(_focal(logits.float(), labels).mean() * FOCAL_WEIGHT)
            pos = labels.bool()
            if bool(pos.any()):
                l1.append((pred.float()[pos] - dists[pos]).abs().mean() * L1_WEIGHT)
            n = lengths[i]
            nce.append(
                NCE_WEIGHT
                * _contrastive(
                    out.video_emb[i, :n],
                    out.query_emb[i],
                    sal[i].to(out.video_emb.device),
                    positives[i],
                )
            )
    zero = outs[0].video_emb.new_zeros((), dtype=torch.float32)
    return HeadLosses(
        torch.stack(focal).sum() / b,
        torch.stack(l1).sum() / b if l1 else zero,
        torch.stack(nce).sum() / b,
    )
