"""Tiny offline checkpoints: tokenizer, templates, save/load through from_pretrained, determinism."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForImageTextToText

from framescope import cli
from framescope.errors import ModelError
from framescope.models import tiny

from .conftest import make_clip, video_kwargs

CLASSES = {
    "qwen2_vl": ("Qwen2VLProcessor", "Qwen2VLForConditionalGeneration"),
    "qwen2_5_vl": ("Qwen2_5_VLProcessor", "Qwen2_5_VLForConditionalGeneration"),
    "qwen3_vl": ("Qwen3VLProcessor", "Qwen3VLForConditionalGeneration"),
}
VIDEO_THEN_Q = [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "Q?"}]}]


def test_every_added_token_is_one_id() -> None:
    tok = tiny.build_tokenizer()
    for text, _ in (*tiny.QWEN_TOKENS, *tiny.METHOD_TOKENS):
        ids = tok(text, add_special_tokens=False).input_ids
        assert len(ids) == 1, text
        assert tok.convert_ids_to_tokens(ids[0]) == text
    assert len(tok) == 256 + len(tiny.QWEN_TOKENS) + len(tiny.METHOD_TOKENS) <= tiny.TINY_VOCAB_SIZE
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"


def test_tokenizer_is_byte_level_and_keeps_dynframe_tokens_in_text() -> None:
    tok = tiny.build_tokenizer()
    text = "<think>at <span>6.50 - 10.50</span><fps>2</fps> — 日本 <|reg|></think>"
    ids = tok(text, add_special_tokens=False).input_ids
    assert tok.decode(ids) == text
    # DynFrame's tokens are parsed from decoded text; VideoMind's are control tokens (dropped)
    kept = tok.decode(ids, skip_special_tokens=True)
    assert "<span>6.50 - 10.50</span><fps>2</fps>" in kept and "<|reg|>" not in kept
    assert tok("a", add_special_tokens=False).input_ids == [ord("a")]  # id == byte value


def test_config_token_ids_match_tokenizer() -> None:
    tok = tiny.build_tokenizer()
    for family in tiny.FAMILIES:
        config = tiny.model_config(family)
        assert config.image_token_id == tok.convert_tokens_to_ids("<|image_pad|>")
        assert config.video_token_id == tok.convert_tokens_to_ids("<|video_pad|>")
        assert config.vision_start_token_id == tok.convert_tokens_to_ids("<|vision_start|>")
        assert config.vision_end_token_id == tok.convert_tokens_to_ids("<|vision_end|>")
        assert config.text_config.eos_token_id == tok.eos_token_id


def test_qwen2_template_matches_released_behaviour() -> None:
    proc = tiny.build_processor("qwen2_vl")
    assert proc.apply_chat_template(VIDEO_THEN_Q, tokenize=False, add_generation_prompt=True) == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\n<|vision_start|><|video_pad|><|vision_end|>Q?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert "Video 1: <|vision_start|>" in proc.apply_chat_template(
        VIDEO_THEN_Q, tokenize=False, add_vision_id=True
    )


def test_qwen3_template_reasoning_and_thinking_prompt() -> None:
    proc = tiny.build_processor("qwen3_vl")
    messages = [
        *VIDEO_THEN_Q,
        {"role": "assistant", "content": "<think>\nold\n</think>\n\nA1"},
        {"role": "user", "content": "Q2"},
        {"role": "assistant", "content": "A2", "reasoning_content": "why"},
    ]
    assert proc.apply_chat_template(messages, tokenize=False) == (
        "<|im_start|>user\n<|vision_start|><|video_pad|><|vision_end|>Q?<|im_end|>\n"
        "<|im_start|>assistant\nA1<|im_end|>\n"  # reasoning before the last query is dropped
        "<|im_start|>user\nQ2<|im_end|>\n"
        "<|im_start|>assistant\n<think>\nwhy\n</think>\n\nA2<|im_end|>\n"
    )
    prompt = proc.apply_chat_template(
        VIDEO_THEN_Q, tokenize=False, add_generation_prompt=True, enable_thinking=True
    )
    assert prompt.endswith("<|im_start|>assistant\n<think>\n")


@pytest.mark.parametrize("family", tiny.FAMILIES)
def test_saved_folder_loads_and_runs_a_clip(family: str, loaded: dict, tiny_dirs: dict) -> None:
    proc, model = loaded[family]
    assert (type(proc).__name__, type(model).__name__) == CLASSES[family]
    files = {p.name for p in Path(tiny_dirs[family]).iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "chat_template.jinja"} <= files
    clip = make_clip(4, fps=2.0, start=6.5)
    text = proc.apply_chat_template(VIDEO_THEN_Q, tokenize=False, add_generation_prompt=True)
    inputs = proc(text=[text], return_tensors="pt", **video_kwargs([clip]))
    n_video = int((inputs["input_ids"] == model.config.video_token_id).sum())
    assert n_video == int(inputs["video_grid_thw"].prod()) // 4  # 2×2 spatial merge
    with torch.no_grad():
        logits = model(**inputs).logits  # (1, L, V)
    assert logits.shape == (1, inputs["input_ids"].shape[1], tiny.TINY_VOCAB_SIZE)
    assert torch.isfinite(logits).all()
    out = model.generate(**inputs, max_new_tokens=3)
    assert out.shape == (1, inputs["input_ids"].shape[1] + 3)
    assert torch.equal(out[0, -3], logits[0, -1].argmax())  # greedy by default


def _video_text(family: str, loaded: dict, fps: float) -> tuple[str, Any]:
    proc, _ = loaded[family]
    clip = make_clip(4, fps=fps)
    inputs = proc(
        text=["<|vision_start|><|video_pad|><|vision_end|>"],
        return_tensors="pt",
        **video_kwargs([clip]),
    )
    return proc.tokenizer.decode(inputs["input_ids"][0]), inputs


def test_qwen2_video_layout_and_second_per_grid_ts(loaded: dict) -> None:
    pads = "<|video_pad|>" * 8  # 4 frames 56² → 2 temporal patches × 2×2 merged tokens
    for family in ("qwen2_vl", "qwen2_5_vl"):
        text, inputs = _video_text(family, loaded, fps=0.5)
        assert text == f"<|vision_start|>{pads}<|vision_end|>"
        assert inputs["video_grid_thw"].tolist() == [[2, 4, 4]]
    # Qwen2.5-VL: seconds per temporal patch from the clip's own frame rate (2 frames / 0.5 fps)
    assert loaded["qwen2_5_vl"][1].config.vision_config.tokens_per_second == 2
    assert inputs["second_per_grid_ts"].tolist() == [4.0]


def test_qwen3_video_layout_in_transformers_5(loaded: dict) -> None:
    """Per temporal patch: "<t seconds>" (mean of its two frames' times, relative to the clip,
    one decimal) then its own vision block. transformers 5.x replaces only the <|video_pad|>, so
    the template's outer <|vision_start|>…<|vision_end|> stays around the blocks; Qwen's reference
    processor (4.57) replaced the whole triple. Pinned so an upstream change is noticed."""
    text, _ = _video_text("qwen3_vl", loaded, fps=1.0)
    block = "<|vision_start|>" + "<|video_pad|>" * 4 + "<|vision_end|>"  # 64² → 2×2 merged
    reference = f"<0.5 seconds>{block}<2.5 seconds>{block}"
    assert text == f"<|vision_start|>{reference}<|vision_end|>"


def test_same_seed_same_weights_and_rng_untouched() -> None:
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = tiny.build_model("qwen2_5_vl", seed=0).state_dict()
    assert torch.equal(torch.rand(1), before)  # build_model leaves the caller's RNG alone
    b = tiny.build_model("qwen2_5_vl", seed=0).state_dict()
    c = tiny.build_model("qwen2_5_vl", seed=1).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a)


def test_saved_weights_are_deterministic(tmp_path: Path, tiny_dirs: dict) -> None:
    again = tiny.save_tiny_model("qwen3_vl", tmp_path / "again")
    a = load_file(tiny_dirs["qwen3_vl"] / "model.safetensors")
    b = load_file(again / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_save_is_atomic_and_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    out = tmp_path / "ckpt"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(ModelError, match="not empty"):
        tiny.save_tiny_model("qwen2_vl", out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]  # no temp folder left behind
    tiny.save_tiny_model("qwen2_vl", out, seed=3, overwrite=True)
    assert not (out / "keep.txt").exists() and (out / "model.safetensors").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]


def test_presets_and_bad_names() -> None:
    small = tiny.model_config("qwen3_vl", "small").text_config
    assert small.hidden_size >= 512 and small.num_hidden_layers >= 8
    big = tiny.model_config("qwen2_5_vl", "7b")  # never build 7B weights in tests: meta only
    assert (big.text_config.hidden_size, big.text_config.num_hidden_layers) == (3584, 28)
    assert big.vision_config.fullatt_block_indexes == [7, 15, 23, 31]
    with torch.device("meta"):
        model = AutoModelForImageTextToText.from_config(big, dtype=torch.bfloat16)
    assert sum(p.numel() for p in model.parameters()) == 8_292_166_656  # Qwen2.5-VL-7B's count
    with pytest.raises(ModelError, match="qwen2_5_vl only"):
        tiny.model_config("qwen3_vl", "7b")
    with pytest.raises(ModelError, match="unknown model family"):
        tiny.model_config("llava", "tiny")
    with pytest.raises(ModelError, match="unknown preset"):
        tiny.build_processor("qwen2_vl", "huge")


def test_cli_tiny_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from transformers import AutoConfig

    out = tmp_path / "m"
    assert cli.main(["tiny-model", "--family", "qwen2_5_vl", "--out", str(out), "--seed", "2"]) == 0
    assert AutoConfig.from_pretrained(out).model_type == "qwen2_5_vl"
    assert cli.main(["tiny-model", "--family", "qwen2_5_vl", "--out", str(out)]) == 1
    assert "not empty" in capsys.readouterr().err
