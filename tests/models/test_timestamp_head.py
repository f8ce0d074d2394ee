"""Timestamp decoder: released names and shapes, a literal re-computation of the released forward
and decoding, batches with different lengths, hand-computed targets and losses, gradients, the
feature helpers."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from framescope.errors import ModelError
from framescope.models.head_features import (
    PreNormCapture,
    pool_video_features,
    reg_query_positions,
)
from framescope.models.timestamp_head import (
    RELEASED_PREFIX,
    HeadOutput,
    TimestampHead,
    decode,
    losses,
    nms,
    point_targets,
    saliency_from_windows,
    sinusoid_positions,
    strip_released_prefix,
)
from framescope.models.tiny import build_model

H = 64


def make_head(seed: int = 0, hidden: int = H, dims: int = 32) -> TimestampHead:
    """A small head with every parameter randomised (biases and norms too)."""
    torch.manual_seed(seed)
    head = TimestampHead(hidden, dims=dims, heads=4)
    with torch.no_grad():
        for p in head.parameters():
            p.add_(torch.randn_like(p) * 0.2)
    return head.eval()


def released_families(keys: list[str]) -> set[str]:
    fams = set()
    for k in keys:
        parts = k.split(".")
        fams.add(".".join(parts[:3]) if parts[0] in {"vis_fuse", "pyramid"} else parts[0])
    return fams


def test_released_names_and_strict_load(tmp_path: Path) -> None:
    """93 tensors at D = 256 under the released names; a released-style file (fp16, prefixed)
    loads strict and gives the same outputs as the fp16-rounded head."""
    head = TimestampHead(1536)
    state = head.state_dict()
    assert len(state) == 93
    assert released_families(list(state)) == {
        "vis_proj",
        "reg_proj",
        "vis_norm",
        "vis_fuse.0.self_att",
        "vis_fuse.0.self_att_norm",
        "vis_fuse.0.ffn",
        "vis_fuse.0.ffn_norm",
        "vis_fuse.1.self_att",
        "vis_fuse.1.self_att_norm",
        "vis_fuse.1.ffn",
        "vis_fuse.1.ffn_norm",
        "vis_fuse.2.self_att",
        "vis_fuse.2.self_att_norm",
        "vis_fuse.2.ffn",
        "vis_fuse.2.ffn_norm",
        "vis_emb",
        "reg_emb",
        "pyramid.blocks.1",
        "pyramid.blocks.2",
        "pyramid.blocks.3",
        "class_head",
        "coord_head",
        "coef",
    }
    shapes = {k: tuple(v.shape) for k, v in state.items()}
    assert shapes["vis_proj.1.weight"] == (256, 1536)
    assert shapes["vis_emb.weights"] == (1, 1, 256)
    assert shapes["pyramid.blocks.3.11.weight"] == (256, 256, 2)
    assert shapes["pyramid.blocks.3.13.weight"] == (256,)
    assert shapes["class_head.module.3.weight"] == (1, 256, 3)
    assert shapes["coord_head.module.3.weight"] == (2, 256, 3)
    assert shapes["vis_fuse.2.ffn.mapping.2.weight"] == (256, 1024)
    assert shapes["coef.scale"] == (4,)

    small = make_head()
    file = tmp_path / "pytorch_model.safetensors"
    save_file({RELEASED_PREFIX + k: v.half() for k, v in small.state_dict().items()}, str(file))
    loaded = TimestampHead(H, dims=32, heads=4)
    loaded.load_state_dict(
        {k: v.float() for k, v in strip_released_prefix(load_file(str(file))).items()}, strict=True
    )
    rounded = make_head()
    rounded.load_state_dict({k: v.half().float() for k, v in small.state_dict().items()})
    video, query = torch.randn(1, 12, H), torch.randn(1, H)
    a, b = loaded.eval()(video, query), rounded(video, query)
    for x, y in zip(a.logits + a.distances, b.logits + b.distances):
        torch.testing.assert_close(x, y)


def test_shapes_and_levels() -> None:
    head = make_head()
    out = head(torch.randn(2, 10, H), torch.randn(2, H))
    assert out.strides == (1, 2, 4, 8)
    assert [lv.shape for lv in out.logits] == [(2, 10), (2, 5), (2, 2), (2, 1)]
    assert [d.shape for d in out.distances] == [(2, 10, 2), (2, 5, 2), (2, 2, 2), (2, 1, 2)]
    assert all(bool((d > 0).all()) for d in out.distances)
    assert out.video_emb.shape == (2, 10, 32) and out.query_emb.shape == (2, 32)
    short = head(torch.randn(1, 3, H), torch.randn(1, H))  # levels longer than T are skipped
    assert short.strides == (1, 2)
    assert len(head.forward_all(torch.randn(1, 9, H), torch.randn(1, H))) == 3
    with pytest.raises(ModelError):
        head(torch.randn(1, 4, H + 1), torch.randn(1, H + 1))
    with pytest.raises(ModelError):  # holes in the mask
        head(torch.randn(1, 4, H), torch.randn(1, H), torch.tensor([[1, 0, 1, 0]]).bool())


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_fuse_layer_equals_nncore(mode: str) -> None:
    """The release's fuse layer is nncore 0.4's TransformerEncoderLayer (VideoMind builds it with
    the LLM's activation): one with random weights, loaded into ours by its own state dict,
    gives the same outputs — with padded keys, and in training mode with the same drop-path
    draws (p = 0.5 so that samples are dropped)."""
    nncore_nn = pytest.importorskip("nncore.nn")
    torch.manual_seed(0)
    ref = nncore_nn.TransformerEncoderLayer(256, droppath=0.5, act_cfg=torch.nn.SiLU())
    with torch.no_grad():
        for p in ref.parameters():  # biases and norms too, not only nncore's init
            p.add_(torch.randn_like(p) * (0.1 if p.dim() == 1 else 0.01))
    ours = TimestampHead(H, droppath=0.5).vis_fuse[0]  # D 256, 8 heads, FFN x4, SiLU
    ours.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(8, 13, 256)
    mask = torch.ones(8, 13, dtype=torch.bool)
    mask[2, 9:] = False
    for m in (ref, ours):
        m.train(mode == "train")
    torch.manual_seed(1)
    want = ref(x, mask=mask.long())
    torch.manual_seed(1)
    got = ours(x, mask)
    torch.testing.assert_close(got, want, atol=1e-6, rtol=0)
    if mode == "train":  # some branches were dropped: the draws matter and matched
        with torch.no_grad():
            assert not torch.allclose(got, ours.eval()(x, mask))


def test_positions_hand_values() -> None:
    """Step k of n sits at k/n·2π; channel pairs (sin, cos) share a frequency."""
    pe = sinusoid_positions(torch.ones(1, 4, dtype=torch.bool), 4)
    k = torch.arange(1, 5) / 4 * 2 * math.pi
    want = torch.stack([k.sin(), k.cos(), (k / 100).sin(), (k / 100).cos()], dim=1)
    torch.testing.assert_close(pe[0], want, atol=1e-5, rtol=1e-5)


def reference_released(
    head: TimestampHead, video: torch.Tensor, query: torch.Tensor, duration: float
) -> torch.Tensor:
    """The release's inference path, written out with plain ops for one sample: returns its
    top candidates ``(K, 3)`` in seconds (with suppressed ones at score 0), clamped, swapped."""
    d = head.dims
    v = head.vis_proj(video[None]) + head.vis_emb.weights
    q = head.reg_proj(query[None, None]) + head.reg_emb.weights
    t = v.shape[1]
    pos = torch.arange(1, t + 1).float()[None]
    pos = pos / (pos[:, -1:] + 1e-6) * 2 * math.pi
    dt = 10000 ** (torch.arange(d) // 2 * 2 / d)
    pe = pos[..., None] / dt
    pe = torch.stack((pe[..., 0::2].sin(), pe[..., 1::2].cos()), dim=3).flatten(2)
    x = torch.cat((v + pe, q), dim=1)
    for layer in head.vis_fuse:
        att = layer.self_att
        h = layer.self_att_norm(x)
        nh = att.heads
        qq, kk, vv = (p(h).view(1, -1, nh, d // nh).transpose(1, 2) for p in (att.q, att.k, att.v))
        weights = (qq @ kk.transpose(-1, -2) / (d // nh) ** 0.5).softmax(-1)
        x = x + att.m((weights @ vv).transpose(1, 2).reshape(1, -1, d))
        m = layer.ffn.mapping
        x = x + m[2](F.silu(m[0](layer.ffn_norm(x))))
    video_emb = head.vis_norm(x)[:, :-1]
    points, cls, reg = [], [], []
    for i, s in enumerate(head.strides):
        if t < s:
            continue
        if s == 1:
            y = F.silu(video_emb)  # the stride-1 level is the activation alone
        else:
            y, blk = video_emb, head.pyramid.blocks[i]
            for j in range(int(math.log2(s))):  # (conv k2 s2 → LN → SiLU) × log2(s)
                y = F.silu(blk[5 * j + 3](blk[5 * j + 1](y.transpose(1, 2)).transpose(1, 2)))
        ch, rh = head.class_head.module, head.coord_head.module
        cls.append(ch[3](F.silu(ch[1](y.transpose(1, 2)))).transpose(1, 2)[0, :, 0].sigmoid())
        reg.append(
            rh[3](F.silu(rh[1](y.transpose(1, 2)))).transpose(1, 2)[0].exp() * head.coef.scale[i]
        )
        n = y.shape[1]
        points.append(torch.stack([torch.arange(n) * s, torch.full((n,), s)], dim=1).float())
    point, sal, bnd = torch.cat(points), torch.cat(cls), torch.cat(reg).clone()
    bnd[:, 0] *= -1
    bnd = (bnd * point[:, 1:2] + point[:, 0:1]) / t
    bnd = torch.cat((bnd, sal[:, None]), dim=1)
    bnd = bnd[bnd[:, -1].sort(descending=True)[1]]
    for i in range(len(bnd)):  # the release's in-place greedy NMS
        j = int(bnd[i:, -1].argmax()) + i
        bnd[[i, j]] = bnd[[j, i]]
        a, rest = bnd[i, :2], bnd[i + 1 :, :2]
        inter = (torch.minimum(a[1], rest[:, 1]) - torch.maximum(a[0], rest[:, 0])).clamp(0)
        iou = inter / ((a[1] - a[0]) + (rest[:, 1] - rest[:, 0]) - inter)
        bnd[i + 1 :, -1][iou >= 0.75] = 0
    bnd = bnd[:100]
    spans = (bnd[:, :2] * duration).clamp(0, duration).sort(dim=1).values
    return torch.cat((spans, bnd[:, 2:]), dim=1)


@pytest.mark.parametrize("t", [3, 11, 24])
def test_matches_released_forward_and_decoding(t: int) -> None:
    head = make_head(seed=t)
    with torch.no_grad():
        head.coef.scale[1] = -0.5  # a negative learned scale reverses spans: the swap path runs
        video, query = torch.randn(t, H), torch.randn(H)
        want = reference_released(head, video, query, duration=40.0)
        got = decode(head(video[None], query[None]), [40.0], keep_suppressed=True)[0]
    torch.testing.assert_close(got.to_tensor(), want, atol=1e-4, rtol=1e-4)


def test_batch_with_different_lengths_matches_single() -> None:
    head = make_head(seed=3)
    lengths = [5, 16, 9]
    videos = [torch.randn(n, H) for n in lengths]
    queries = torch.randn(3, H)
    padded = torch.zeros(3, 16, H)
    mask = torch.zeros(3, 16, dtype=torch.bool)
    for i, v in enumerate(videos):
        padded[i, : len(v)], mask[i, : len(v)] = v, True
    with torch.no_grad():
        batch = head(padded, queries, mask)
        many = decode(batch, [10.0, 30.0, 20.0])
        for i, v in enumerate(videos):
            one = head(v[None], queries[i : i + 1])
            assert [int(ok[i].sum()) for ok in batch.valid][: len(one.strides)] == [
                lv.shape[1] for lv in one.logits
            ]
            for lb, lo, ok in zip(batch.logits, one.logits, batch.valid):
                torch.testing.assert_close(lb[i][ok[i]], lo[0], atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(batch.query_emb[i], one.query_emb[0], atol=1e-5, rtol=1e-5)
            single = decode(one, [[10.0, 30.0, 20.0][i]])[0]
            torch.testing.assert_close(
                many[i].to_tensor(), single.to_tensor(), atol=1e-4, rtol=1e-4
            )


def hand_output(
    logits: list[list[float]], dists: list[list[list[float]]], strides: tuple[int, ...], length: int
) -> HeadOutput:
    """A one-sample HeadOutput with the given per-level logits and distances."""
    return HeadOutput(
        logits=[torch.tensor([lv]) for lv in logits],
        distances=[torch.tensor([d]) for d in dists],
        valid=[torch.ones(1, len(lv), dtype=torch.bool) for lv in logits],
        strides=strides,
        video_emb=torch.zeros(1, length, 4),
        query_emb=torch.zeros(1, 4),
        lengths=torch.tensor([length]),
    )


def test_decode_hand_made() -> None:
    """T = 4 steps of a 20 s video (5 s per step). Stride 1 points t = 0..3, stride 2 t = 0, 2."""
    big = 4.0
    out = hand_output(
        logits=[[big, -big, 2.0, 0.0], [1.0, 3.0]],
        dists=[[[1, 1], [0.5, 0.5], [0.5, 2.5], [1, 1]], [[0.5, 0.5], [0.45, 0.55]]],
        strides=(1, 2),
        length=4,
    )
    (c,) = decode(out, [20.0])
    sig = torch.sigmoid(torch.tensor([big, 3.0, 2.0, 1.0, 0.0, -big])).tolist()
    # t=0 s1: [-1, 1] steps -> [-5, 5] s -> clamped [0, 5]; t=2 s2: [2-0.9, 2+1.1] = [1.1, 3.1]
    # t=2 s1: [1.5, 4.5] -> [7.5, 22.5] -> [7.5, 20]; its IoU with [5.5, 15.5] is 8/17 < 0.75
    # t=0 s2: [-1, 1] duplicates t=0 s1 exactly (IoU 1): suppressed; t=3 s1: [2, 4] -> [10, 20]
    # t=1 s1: [0.5, 1.5] -> [2.5, 7.5], last by score
    windows = [x for w in c.windows for x in (w.start, w.end)]
    assert windows == pytest.approx([0, 5, 5.5, 15.5, 7.5, 20, 10, 20, 2.5, 7.5])
    assert c.scores == pytest.approx([sig[0], sig[1], sig[2], sig[4], sig[5]])
    kept = decode(out, [20.0], keep_suppressed=True)[0]
    assert len(kept.windows) == 6 and kept.scores[-1] == 0.0  # the duplicate, last, score 0
    assert (kept.windows[-1].start, kept.windows[-1].end) == pytest.approx((0, 5))
    assert len(decode(out, [20.0], top_k=2)[0].windows) == 2
    # a negative distance (negative learned scale) reverses a span: swapped, then clamped
    rev = hand_output([[0.0, 0.0]], [[[-1.0, -0.5], [1.0, 1.0]]], (1,), 2)
    (r,) = decode(rev, [4.0])
    assert (r.windows[0].start, r.windows[0].end) == pytest.approx((0.0, 2.0))


def test_decode_drops_non_finite_outputs() -> None:
    """A head that outputs NaN/inf (a broken checkpoint, an fp16 overflow) never puts a NaN moment
    or score into the candidates; a sample with nothing finite left gets none."""
    nan, inf = float("nan"), float("inf")
    out = hand_output([[nan, 1.0, 0.0, 2.0]], [[[1, 1], [nan, 1], [1, inf], [0.5, 0.5]]], (1,), 4)
    (c,) = decode(out, [20.0], keep_suppressed=True)
    # only t = 3 is finite: [2.5, 3.5] steps -> [12.5, 17.5] s
    assert [(w.start, w.end) for w in c.windows] == [(12.5, 17.5)]
    assert c.scores == pytest.approx([torch.sigmoid(torch.tensor(2.0)).item()])
    (none,) = decode(hand_output([[nan, nan]], [[[1, 1], [1, 1]]], (1,), 2), [4.0])
    assert none.windows == [] and none.scores == [] and none.to_tensor().shape == (0, 3)


def test_nms_order_matches_the_release() -> None:
    """Suppressed candidates keep score 0 and end up after the survivors, in the order the
    release's in-place swaps leave them."""
    spans = torch.tensor([[0.0, 1.0], [0.0, 0.95], [2.0, 3.0], [4.0, 5.0], [2.0, 2.9]])
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6, 0.65])
    order, suppressed = nms(spans, scores, 0.75)
    assert order.tolist() == [0, 2, 3, 4, 1]
    assert suppressed.tolist() == [False, False, False, True, True]


def test_point_targets_hand_computed() -> None:
    """T = 8, GT = steps [2, 6] (centre 4). Stride 1: within 1.5 of the centre are t = 3, 4, 5;
    only t = 4 has its larger side distance (2) in (0, 2]. Stride 2: t = 2, 4, 6 are inside
    [4 ± 3] ∩ GT with larger side 4, 2, 4 in [2, 4]. Strides 4, 8: none in range."""
    out = hand_output(
        [[0.0] * 8, [0.0] * 4, [0.0] * 2, [0.0]],
        [[[1, 1]] * 8, [[1, 1]] * 4, [[1, 1]] * 2, [[1, 1]]],
        (1, 2, 4, 8),
        8,
    )
    labels, dists = point_targets(out, 0, torch.tensor([[0.25, 0.75]]))
    #                          stride 1                  stride 2    stride 4  stride 8
    assert labels.tolist() == [0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0]
    assert dists[4].tolist() == [2, 2]
    assert dists[9:12].tolist() == [[0, 2], [1, 1], [2, 0]]
    # two GTs covering t = 4 at stride 1: the shorter one ([3, 5], larger side 1) is the target
    labels, dists = point_targets(out, 0, torch.tensor([[0.25, 0.75], [0.375, 0.625]]))
    assert labels[4] == 1 and dists[4].tolist() == [1, 1]


def test_saliency_from_windows() -> None:
    assert saliency_from_windows(torch.tensor([[0.25, 0.5]]), 8).tolist() == [
        0,
        0,
        1,
        1,
        0,
        0,
        0,
        0,
    ]
    assert saliency_from_windows(torch.tensor([[0.3, 0.31]]), 8).tolist() == [
        0,
        0,
        1,
        0,
        0,
        0,
        0,
        0,
    ]  # too short to cover a step: the step holding its centre


def test_losses_hand_computed() -> None:
    """T = 2, stride 1 only, GT = the whole video: both points inside; centre 1, radius 1.5, so
    t = 0 (larger side 2) and t = 1 (larger side 1) are positive with targets (0, 2), (1, 1)."""
    out = hand_output([[0.0, 2.0]], [[[0.5, 2.0], [1.0, 3.0]]], (1,), 2)
    out.video_emb = torch.tensor([[[1.0, 0, 0, 0], [0, 1.0, 0, 0]]])
    out.query_emb = torch.tensor([[1.0, 1.0, 0, 0]])
    got = losses(out, [torch.tensor([[0.0, 1.0]])], positives=[1])
    p = torch.sigmoid(torch.tensor([0.0, 2.0]))
    focal = (-(p.log()) * (1 - p) ** 2).mean() * 5.0
    l1 = (abs(0.5 - 0) + abs(2 - 2) + abs(1 - 1) + abs(3 - 1)) / 4 * 1.0
    nce = -math.log(0.5) * 0.05  # both steps have the same cosine (1/√2) with the query
    assert got.focal.item() == pytest.approx(focal.item(), rel=1e-5)
    assert got.l1.item() == pytest.approx(l1, rel=1e-5)
    assert got.contrastive.item() == pytest.approx(nce, rel=1e-5)
    assert got.total.item() == pytest.approx(focal.item() + l1 + nce, rel=1e-5)
    # unequal cosines: softmax over steps with saliency <= the positive's (here both)
    out.query_emb = torch.tensor([[1.0, 0.0, 0, 0]])
    got = losses(out, [torch.tensor([[0.0, 1.0]])], positives=[0])
    want = -F.log_softmax(torch.tensor([1.0, 0.0]) / 0.07, 0)[0] * 0.05
    assert got.contrastive.item() == pytest.approx(want.item(), rel=1e-5)
    # a negative (saliency 0) positive cannot contrast against the GT steps
    got = losses(out, [torch.tensor([[0.5, 1.0]])], positives=[0])
    assert got.contrastive.item() == pytest.approx(0.0, abs=1e-6)


def test_losses_batch_mean_and_layer_sum() -> None:
    head = make_head(seed=5)
    head.train()
    video, query = torch.randn(2, 12, H), torch.randn(2, H)
    mask = torch.ones(2, 12, dtype=torch.bool)
    mask[1, 8:] = False
    targets = [torch.tensor([[0.2, 0.6]]), torch.tensor([[0.5, 0.9], [0.0, 0.25]])]
    torch.manual_seed(0)  # drop-path
    outs = head.forward_all(video, query, mask)
    both = losses(outs, targets, positives=[4, 5])
    per = [[losses(o, targets, positives=[4, 5]) for o in outs]]
    assert both.focal.item() == pytest.approx(sum(x.focal.item() for x in per[0]), rel=1e-5)
    g = torch.Generator().manual_seed(1)
    sampled = losses(outs, targets, generator=g)  # positives drawn from the GT steps
    assert torch.isfinite(sampled.total)


def test_gradients_reach_every_parameter() -> None:
    head = make_head(seed=7)
    head.train()
    video = torch.randn(2, 16, H, requires_grad=True)
    query = torch.randn(2, H, requires_grad=True)
    out = head.forward_all(video, query)
    # GTs chosen so every level has positives (all four level scales get an L1 gradient)
    losses(
        out,
        [torch.tensor([[0.0, 1.0]]), torch.tensor([[0.1, 0.5], [0.75, 0.8]])],
        generator=torch.Generator().manual_seed(0),
    ).total.backward()
    for name, p in head.named_parameters():
        assert p.grad is not None and bool(p.grad.abs().sum() > 0), name
    assert video.grad is not None and query.grad is not None


def test_pool_video_features() -> None:
    """Row 0: two videos, grids (2, 2, 2) and (2, 4, 2): 2 steps of 1 merged token, then 2 of 2;
    only the first is pooled. Row 1: left padding, one video of 3 steps × 2 tokens."""
    v, x = 9, 1
    ids = torch.tensor(
        [
            [x, v, v, x, v, v, v, v, x, x, x, x, x],
            [0, 0, x, v, v, v, v, v, v, x, x, x, x],
        ]
    )
    grid = torch.tensor([[2, 2, 2], [2, 4, 2], [3, 4, 2]])
    hidden = torch.arange(2 * 13, dtype=torch.float32).view(2, 13, 1).repeat(1, 1, 3)
    feats, mask = pool_video_features(hidden, ids, grid, v)
    assert feats.shape == (2, 3, 3)
    assert mask.tolist() == [[True, True, False], [True, True, True]]
    assert feats[0, :2, 0].tolist() == [1.0, 2.0]  # one token per step: positions 1 and 2
    assert feats[1, :, 0].tolist() == [13 + 3.5, 13 + 5.5, 13 + 7.5]  # pairs (3,4) (5,6) (7,8)
    with pytest.raises(ModelError):
        pool_video_features(hidden, ids, grid[:2], v)  # row 1's video has no grid
    with pytest.raises(ModelError):
        pool_video_features(hidden, ids, torch.tensor([[2, 2, 2], [2, 2, 2], [3, 4, 2]]), v)


def test_reg_query_positions() -> None:
    ids = torch.tensor([[5, 6, 7, 99, 8], [1, 2, 3, 4, 99]])
    assert reg_query_positions(ids, 99).tolist() == [2, 3]
    with pytest.raises(ModelError):  # a <|reg|> at position 0 has no predicting position
        reg_query_positions(torch.tensor([[99, 1, 2]]), 99)


def test_pre_norm_capture() -> None:
    """The captured state is what the final norm normalises (hidden_states[-1] is post-norm)."""
    model = build_model("qwen2_vl")
    ids = torch.randint(0, 250, (1, 7))
    with torch.no_grad(), PreNormCapture(model) as cap:
        out = model(input_ids=ids, output_hidden_states=True)
    assert len(cap.states) == 1 and cap.states[0].shape == (1, 7, 64)
    norm = model.get_decoder().norm
    torch.testing.assert_close(norm(cap.states[0]), out.hidden_states[-1])
    assert not torch.allclose(cap.states[0], out.hidden_states[-1])
    model(input_ids=ids)  # the hook is gone after the block
    assert len(cap.states) == 1
