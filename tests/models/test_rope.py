"""3-D rope positions: hand-computed ids, transformers 5.23 where it is right (and where it is not),
and KV-cache continuation on the tiny models matching a full re-run."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from transformers import DynamicCache

from framescope.errors import ModelError
from framescope.models.rope import RopeSpec, rope_index
from framescope.models.tiny import FAMILIES

from .conftest import make_clip, video_kwargs

IMG, VID, TXT = 8, 9, 1  # token ids for the hand-computed sequences


def spec(family: str, tokens_per_second: float = 2.0) -> RopeSpec:
    return RopeSpec(family, IMG, VID, spatial_merge_size=2, tokens_per_second=tokens_per_second)


def ids(*parts: tuple[int, int]) -> torch.Tensor:
    """``(token, count), …`` → ``(1, L)``."""
    return torch.tensor([[tok for tok, n in parts for _ in range(n)]])


def hf_rope(model: Any, input_ids: torch.Tensor, **kw: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """transformers' own ``get_rope_index`` (mm_token_type_ids as its processor builds them)."""
    cfg = model.config
    types = (input_ids == cfg.image_token_id).int() + 2 * (input_ids == cfg.video_token_id).int()
    return model.model.get_rope_index(input_ids, mm_token_type_ids=types, **kw)


def test_worked_example_qwen2_5_vl(loaded: dict) -> None:
    """3 temporal patches of 2×2 merged tokens at 1 fps: second_per_grid_ts = 2 / 1 = 2 s."""
    seq = ids((VID, 12), (TXT, 2))
    grid = torch.tensor([[3, 4, 4]])  # processor grid: unmerged patches
    pos, delta = rope_index(
        spec("qwen2_5_vl", 25), seq, video_grid_thw=grid, second_per_grid_ts=[2.0]
    )
    assert pos[:, 0].tolist() == [
        [0, 0, 0, 0, 50, 50, 50, 50, 100, 100, 100, 100, 101, 102],
        [0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 101, 102],
        [0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 101, 102],
    ]
    assert delta.tolist() == [[103 - 14]]
    # transformers 5.23 continues at max(h, w) = 2 after the clip: ids 2, 3 reuse the clip's range
    model = loaded["qwen2_5_vl"][1]
    real = torch.where(seq == VID, model.config.video_token_id, seq)
    model.config.vision_config.tokens_per_second = 25
    try:
        hf, hf_delta = hf_rope(
            model, real, video_grid_thw=grid, second_per_grid_ts=torch.tensor([2.0])
        )
    finally:
        model.config.vision_config.tokens_per_second = 2
    assert hf[:, 0, :12].tolist() == pos[:, 0, :12].tolist()
    assert hf[:, 0, 12:].tolist() == [[2, 3]] * 3 and hf_delta.tolist() == [[101 - 14]]


@pytest.mark.parametrize("family", FAMILIES)
def test_text_only_is_arange_on_every_axis(family: str) -> None:
    seq = ids((TXT, 7))
    pos, delta = rope_index(spec(family), seq)
    assert pos.tolist() == [[list(range(7))]] * 3 and delta.tolist() == [[0]]


@pytest.mark.parametrize("family", FAMILIES)
def test_image_then_text_and_transformers_agrees(family: str, loaded: dict) -> None:
    seq = ids((TXT, 3), (IMG, 6), (TXT, 2))
    grid = torch.tensor([[1, 4, 6]])  # 2×3 merged tokens
    pos, delta = rope_index(spec(family), seq, image_grid_thw=grid)
    assert pos[:, 0].tolist() == [
        [0, 1, 2, 3, 3, 3, 3, 3, 3, 6, 7],  # text, image (2×3), text after max + 1
        [0, 1, 2, 3, 3, 3, 4, 4, 4, 6, 7],
        [0, 1, 2, 3, 4, 5, 3, 4, 5, 6, 7],
    ]
    assert delta.tolist() == [[8 - 11]]
    model = loaded[family][1]
    real = seq.clone()  # the tiny models' own ids for the same layout
    real[seq == IMG], real[seq == VID] = model.config.image_token_id, model.config.video_token_id
    hf, hf_delta = hf_rope(model, real, image_grid_thw=grid)
    assert torch.equal(hf, pos) and torch.equal(hf_delta, delta)


def test_two_clips_mid_sequence_qwen2_5_vl() -> None:
    """A 2 fps clip, text, then a 0.5 fps clip spliced later (tokens_per_second 2)."""
    seq = ids((TXT, 2), (VID, 2), (TXT, 3), (VID, 6), (TXT, 1))
    grids = torch.tensor([[2, 2, 2], [3, 2, 4]])  # merged (2, 1, 1) and (3, 1, 2)
    pos, delta = rope_index(
        spec("qwen2_5_vl"), seq, video_grid_thw=grids, second_per_grid_ts=[1.0, 4.0]
    )
    # clip A at 2: t = 2 + (0, 1·1·2) → max 4; text 5–7; clip B at 8: t = 8 + (0, 8, 16) → max 24
    assert pos[:, 0].tolist() == [
        [0, 1, 2, 4, 5, 6, 7, 8, 8, 16, 16, 24, 24, 25],
        [0, 1, 2, 2, 5, 6, 7, 8, 8, 8, 8, 8, 8, 25],
        [0, 1, 2, 2, 5, 6, 7, 8, 9, 8, 9, 8, 9, 25],
    ]
    assert delta.tolist() == [[26 - 14]]


def test_two_clips_qwen2_vl_reference_vs_transformers(loaded: dict) -> None:
    """Qwen2-VL: a 4-patch 2×2 clip at 7 spans 7…10; the reference continues at 11, 5.23 at 9."""
    seq = ids((TXT, 7), (VID, 16), (TXT, 2), (VID, 4), (TXT, 1))
    grids = torch.tensor([[4, 4, 4], [1, 4, 4]])
    pos, _ = rope_index(spec("qwen2_vl"), seq, video_grid_thw=grids)
    assert pos[0, 0, 7:23].tolist() == [7] * 4 + [8] * 4 + [9] * 4 + [10] * 4
    assert pos[0, 0, 23:].tolist() == [11, 12, 13, 13, 13, 13, 15]
    model = loaded["qwen2_vl"][1]
    real = torch.where(seq == VID, model.config.video_token_id, seq)
    hf, _ = hf_rope(model, real, video_grid_thw=grids)
    assert hf[0, 0, 23:].tolist() == [9, 10, 11, 11, 11, 11, 13]


@pytest.mark.parametrize("family", FAMILIES)
def test_left_padding(family: str) -> None:
    row = [(TXT, 2), (IMG, 4), (TXT, 3)]
    grid = torch.tensor([[1, 4, 4], [1, 4, 4]])
    seq = torch.cat([ids((0, 3), *row), ids(*row, (TXT, 3))])  # row 0 left-padded by 3
    mask = torch.ones_like(seq)
    mask[0, :3] = 0
    pos, delta = rope_index(spec(family), seq, attention_mask=mask, image_grid_thw=grid)
    alone, alone_delta = rope_index(spec(family), ids(*row), image_grid_thw=grid[:1])
    assert torch.equal(pos[:, 0, 3:], alone[:, 0]) and pos[:, 0, :3].eq(0).all()
    assert delta.tolist() == alone_delta.tolist() * 2  # padding and trailing text leave it as is


def test_qwen3_blocks_per_patch_match_transformers(loaded: dict) -> None:
    proc, model = loaded["qwen3_vl"]
    text = "<|im_start|>user\nA <|video_pad|> then <|video_pad|> Q?<|im_end|>\n"
    clips = [make_clip(4, fps=1.0), make_clip(6, fps=2.0, seed=1)]
    inputs = proc(text=[text], return_tensors="pt", **video_kwargs(clips))
    pos, delta = rope_index(
        RopeSpec.from_config(model.config),
        inputs["input_ids"],
        video_grid_thw=inputs["video_grid_thw"],
    )
    hf, hf_delta = hf_rope(model, inputs["input_ids"], video_grid_thw=inputs["video_grid_thw"])
    assert torch.equal(pos, hf) and torch.equal(delta, hf_delta)


def test_mismatched_grids_raise() -> None:
    with pytest.raises(ModelError, match="consecutive"):
        rope_index(
            spec("qwen2_vl"), ids((VID, 3), (TXT, 1)), video_grid_thw=torch.tensor([[1, 4, 4]])
        )
    with pytest.raises(ModelError, match="more grids"):
        rope_index(spec("qwen2_vl"), ids((TXT, 2)), video_grid_thw=torch.tensor([[1, 4, 4]]))
    with pytest.raises(ModelError, match="second_per_grid_ts"):
        rope_index(spec("qwen2_5_vl"), ids((VID, 4)), video_grid_thw=torch.tensor([[1, 4, 4]]))


def _spliced(family: str, loaded: dict) -> tuple[Any, Any, dict, int, torch.Tensor]:
    """A prompt with one clip, reasoning up to a retrieval request, then a second clip spliced in
    the same assistant turn. Returns processor, model, inputs, prefix length, full positions."""
    proc, model = loaded[family]
    clips = [make_clip(4, fps=1.0), make_clip(6, fps=2.0, start=6.5, seed=1)]
    prefix = proc.apply_chat_template(
        [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "Q?"}]}],
        tokenize=False,
        add_generation_prompt=True,
    )
    prefix += "<think>look <span>6.5 - 9.0</span><fps>2</fps>"
    # Qwen3-VL's reference layout has no outer wrapper (see test_tiny's layout test)
    splice = (
        "<|video_pad|>" if family == "qwen3_vl" else "<|vision_start|><|video_pad|><|vision_end|>"
    )
    inputs = proc(text=[prefix + splice + " so"], return_tensors="pt", **video_kwargs(clips))
    alone = proc(text=[prefix], return_tensors="pt", **video_kwargs(clips[:1]))
    cut = alone["input_ids"].shape[1]
    assert torch.equal(inputs["input_ids"][:, :cut], alone["input_ids"])
    kw = {"video_grid_thw": inputs["video_grid_thw"]}
    if family == "qwen2_5_vl":
        kw["second_per_grid_ts"] = inputs["second_per_grid_ts"]
    pos, _ = rope_index(
        RopeSpec.from_config(model.config), inputs["input_ids"], inputs["attention_mask"], **kw
    )
    return proc, model, inputs, cut, pos


def _prefill(model: Any, inputs: dict, cut: int, pos: torch.Tensor) -> tuple[Any, int]:
    """Run the prefix (first clip only) into a fresh cache; return it and the first clip's rows."""
    rows = int(inputs["video_grid_thw"][0].prod())  # pixel rows of clip 1
    cache = DynamicCache(config=model.config)
    model(
        input_ids=inputs["input_ids"][:, :cut],
        attention_mask=inputs["attention_mask"][:, :cut],
        position_ids=pos[..., :cut],
        pixel_values_videos=inputs["pixel_values_videos"][:rows],
        video_grid_thw=inputs["video_grid_thw"][:1],
        cache=cache,
        use_cache=True,
    )
    return cache, rows


@pytest.mark.parametrize("family", FAMILIES)
@torch.no_grad()
def test_cache_continuation_equals_full_rerun(family: str, loaded: dict) -> None:
    _, model, inputs, cut, pos = _spliced(family, loaded)
    full = model(
        input_ids=inputs["input_ids"],
        attention_mask=inputs["attention_mask"],
        position_ids=pos,
        pixel_values_videos=inputs["pixel_values_videos"],
        video_grid_thw=inputs["video_grid_thw"],
    ).logits  # (1, L, V)

    def continue_at(positions: torch.Tensor) -> torch.Tensor:
        cache, rows = _prefill(model, inputs, cut, pos)
        return model(
            input_ids=inputs["input_ids"][:, cut:],
            attention_mask=inputs["attention_mask"],  # full length: the cache holds the prefix
            position_ids=positions,
            pixel_values_videos=inputs["pixel_values_videos"][rows:],  # the new clip only
            video_grid_thw=inputs["video_grid_thw"][1:],
            cache=cache,
        ).logits  # (1, L - cut, V)

    assert (continue_at(pos[..., cut:]) - full[:, cut:]).abs().max() < 1e-4
    # the check can fail: ids one step off move the logits far beyond the tolerance
    assert (continue_at(pos[..., cut:] + 1) - full[:, cut:]).abs().max() > 1e-2


@pytest.mark.parametrize("family", FAMILIES)
@torch.no_grad()
def test_generate_from_cache_with_explicit_positions(family: str, loaded: dict) -> None:
    """generate slices the positions past the cache and extends them by +1 per new token."""
    _, model, inputs, cut, pos = _spliced(family, loaded)
    cache, rows = _prefill(model, inputs, cut, pos)
    out = model.generate(
        input_ids=inputs["input_ids"],
        attention_mask=inputs["attention_mask"],
        position_ids=pos,
        cache=cache,
        pixel_values_videos=inputs["pixel_values_videos"][rows:],
        video_grid_thw=inputs["video_grid_thw"][1:],
        max_new_tokens=3,
        output_logits=True,
        return_dict_in_generate=True,
    )
    seq = out.sequences  # (1, L + 3)
    steps = torch.arange(1, 3).view(1, 1, -1) + pos[..., -1:]  # text after text: +1 each
    rerun = model(
        input_ids=seq[:, :-1],
        attention_mask=torch.ones_like(seq[:, :-1]),
        position_ids=torch.cat([pos, steps.expand(3, 1, -1)], dim=-1),
        pixel_values_videos=inputs["pixel_values_videos"],
        video_grid_thw=inputs["video_grid_thw"],
    ).logits[:, -3:]  # (1, 3, V)
    assert (torch.stack(out.logits, dim=1) - rerun).abs().max() < 1e-4
