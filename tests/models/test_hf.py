"""The transformers backend: loading, errors, vision blocks with absolute time, prompts, scoring."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from framescope.errors import ModelError
from framescope.models import hf
from framescope.models.backend import Segment, clip_fps, patch_times
from framescope.models.engine import pad_right, score_next_tokens
from framescope.models.hf import load_backend
from framescope.models.tiny import FAMILIES
from framescope.synth import demo_video
from framescope.types import Clip, Window
from framescope.video.sampling import sample

from .conftest import clip_for, make_clip


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_video(tmp_path_factory.mktemp("video") / "demo.mp4")[0]


def metadata(clip: Clip) -> dict[str, Any]:
    return {
        "total_num_frames": len(clip),
        "fps": clip_fps(clip),
        "frames_indices": list(range(len(clip))),
    }


@pytest.mark.parametrize("family", FAMILIES)
def test_loads_each_family(family: str, backends: dict) -> None:
    be = backends[family]
    assert be.family == family and be.rope.family == family
    assert be.decode([be.stop_token_ids[0]], skip_special_tokens=False) == "<|im_end|>"
    assert be.factor == (32 if family == "qwen3_vl" else 28)
    assert be.model.dtype == torch.float32 and be.device == torch.device("cpu")


def test_load_errors(tmp_path: Path, tiny_dirs: dict) -> None:
    with pytest.raises(ModelError, match="no such model folder"):
        load_backend(tmp_path / "missing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ModelError, match="not a folder"):
        load_backend(tmp_path / "file")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match=r"no config\.json"):
        load_backend(tmp_path / "empty")
    llava = tmp_path / "llava"
    llava.mkdir()
    (llava / "config.json").write_text(json.dumps({"model_type": "llava"}))
    with pytest.raises(ModelError, match="unsupported model type 'llava'; supported: qwen2_vl"):
        load_backend(llava)
    (llava / "config.json").write_text("{not json")
    with pytest.raises(ModelError, match="not a readable JSON config"):
        load_backend(llava)
    with pytest.raises(ModelError, match="unknown dtype"):
        load_backend(tiny_dirs["qwen2_vl"], dtype="int8")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text(json.dumps({"model_type": "qwen2_vl"}))
    with pytest.raises(ModelError, match="cannot load the qwen2_vl checkpoint"):
        load_backend(broken)


def test_register_loader_for_a_new_model_type(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "custom_vl"}))
    with pytest.raises(ModelError, match="unsupported model type 'custom_vl'"):
        load_backend(tmp_path)
    hf.register_loader("custom_vl", lambda path, **kw: ("agent", path, kw))
    try:
        assert load_backend(tmp_path, dtype="bfloat16") == (
            "agent",
            tmp_path,
            {"dtype": "bfloat16", "device": "cpu", "attn_implementation": None},
        )
    finally:
        del hf.LOADERS["custom_vl"]


def test_bfloat16_and_attention_choice(tiny_dirs: dict) -> None:
    be = load_backend(tiny_dirs["qwen2_vl"], dtype="bf16", attn_implementation="eager")
    assert be.model.dtype == torch.bfloat16
    assert be.model.config._attn_implementation == "eager"


@pytest.mark.parametrize("family", ["qwen2_vl", "qwen2_5_vl"])
def test_qwen2_prompt_equals_the_processor_expansion(family: str, backends: dict) -> None:
    """A clip from 0 s: our ids, pixels and grid are exactly the processor's (and its
    second_per_grid_ts, from the clip's own rate, matches ours)."""
    be = backends[family]
    clip = clip_for(be, 6, fps=2.0)
    segment, blocks = be.build_prompt("What happens?", [clip])
    text = be.processor.apply_chat_template(
        [
            {
                "role": "user",
                "content": [{"type": "video"}, {"type": "text", "text": "What happens?"}],
            }
        ],
        tokenize=False,
        add_generation_prompt=True,
    )
    ref = be.processor(
        text=[text],
        videos=[clip.frames],
        video_metadata=[metadata(clip)],
        do_sample_frames=False,
        return_tensors="pt",
    )
    assert segment.token_ids == ref["input_ids"][0].tolist()
    (vision,) = segment.vision
    assert torch.equal(vision.pixel_values, ref["pixel_values_videos"])
    assert list(vision.grid_thw) == ref["video_grid_thw"][0].tolist() == [3, 4, 4]
    if family == "qwen2_5_vl":
        assert vision.seconds_per_patch == pytest.approx(float(ref["second_per_grid_ts"][0]))
    assert vision.seconds_per_patch == pytest.approx(2 / 2.0)
    assert blocks[0].evidence.visual_tokens == 3 * 4 and blocks[0].evidence.frames == 6


@pytest.mark.parametrize("family", ["qwen2_vl", "qwen2_5_vl"])
def test_qwen2_later_clip_gets_a_time_header(family: str, backends: dict) -> None:
    be = backends[family]
    block = be.encode_clip(clip_for(be, 4, fps=0.5, start=6.5))  # frames at 6.5, 8.5, 10.5, 12.5
    text = be.decode(block.segment.token_ids, skip_special_tokens=False)
    assert text == "<6.5 - 12.5 seconds><|vision_start|>" + "<|video_pad|>" * 8 + "<|vision_end|>"
    assert block.segment.vision[0].seconds_per_patch == pytest.approx(4.0)  # 2 frames / 0.5 fps
    assert block.evidence.timestamps == (6.5, 8.5, 10.5, 12.5)
    assert block.evidence.window == Window(6.5, 14.5) and block.evidence.fps == 0.5


def test_qwen3_blocks_carry_absolute_time(backends: dict) -> None:
    be = backends["qwen3_vl"]
    block = be.encode_clip(clip_for(be, 4, fps=1.0, start=6.5))  # patches at 7.0 and 9.0
    pads = "<|video_pad|>" * 4
    assert be.decode(block.segment.token_ids, skip_special_tokens=False) == (
        f"<7.0 seconds><|vision_start|>{pads}<|vision_end|>"
        f"<9.0 seconds><|vision_start|>{pads}<|vision_end|>"
    )
    assert patch_times([0.0, 0.5, 1.0]) == [0.25, 1.0]  # an odd last frame pairs with itself


def test_qwen3_prompt_is_the_reference_layout(backends: dict) -> None:
    """From 0 s, relative = absolute: our ids are the processor's minus transformers 5.x's outer
    <|vision_start|>…<|vision_end|> around the per-patch blocks (the reference layout)."""
    be = backends["qwen3_vl"]
    clip = clip_for(be, 4, fps=1.0)
    segment, _ = be.build_prompt("Q?", [clip])
    text = be.processor.apply_chat_template(
        [{"role": "user", "content": [{"type": "video"}, {"type": "text", "text": "Q?"}]}],
        tokenize=False,
        add_generation_prompt=True,
    )
    ref = be.processor(
        text=[text],
        videos=[clip.frames],
        video_metadata=[metadata(clip)],
        do_sample_frames=False,
        return_tensors="pt",
    )["input_ids"][0].tolist()
    first = ref.index(be.vision_start_id)
    last = len(ref) - 1 - ref[::-1].index(be.vision_end_id)
    assert segment.token_ids == ref[:first] + ref[first + 1 : last] + ref[last + 1 :]


@pytest.mark.parametrize("family", FAMILIES)
def test_pixel_budget_grid_matches_the_processor_resize(
    family: str, backends: dict, video: Path
) -> None:
    """Frames sampled with the backend's budget need no second resize: the processor resizing
    the native frames itself arrives at the same grid."""
    be = backends[family]
    for fps in (0.5, 2.0):
        ours = be.encode_clip(sample(video, fps=fps, budget=be.pixel_budget()))
        native = sample(video, fps=fps, budget=None)  # 320x240 as decoded
        ref = be.video_processor(
            videos=[native.frames], do_sample_frames=False, return_tensors="pt"
        )
        assert list(ours.segment.vision[0].grid_thw) == ref["video_grid_thw"][0].tolist()


def test_unaligned_frames_are_refused(backends: dict) -> None:
    be = backends["qwen2_vl"]
    with pytest.raises(ModelError, match="not multiples of 28"):
        be.encode_clip(make_clip(2, fps=1.0, size=64))


def test_prompt_with_system_and_several_clips(backends: dict) -> None:
    be = backends["qwen2_5_vl"]
    clips = [clip_for(be, 2, fps=1.0), clip_for(be, 2, fps=1.0, start=5.0, seed=1)]
    segment, blocks = be.build_prompt("Compare.", clips, system="Be brief.")
    text = be.decode(segment.token_ids, skip_special_tokens=False)
    assert text.startswith("<|im_start|>system\nBe brief.<|im_end|>")
    assert "<5.0 - 6.0 seconds><|vision_start|>" in text and text.endswith("assistant\n")
    assert len(segment.vision) == 2 and [b.evidence.frames for b in blocks] == [2, 2]


@pytest.mark.parametrize("family", FAMILIES)
@torch.no_grad()
def test_score_next_tokens_and_pre_norm_states(family: str, backends: dict) -> None:
    be = backends[family]
    prompt, _ = be.build_prompt("Is it red?", [clip_for(be, 4, fps=1.0)])
    longer = prompt + Segment(be.encode_text("Answer Yes or No."))
    yes_no = [be.encode_text("Y")[0], be.encode_text("N")[0]]
    both = score_next_tokens(be, [prompt, longer], yes_no)
    assert both.shape == (2, 2)

    def pre_norm(segments: list[Segment]) -> torch.Tensor:
        padded = pad_right(be, segments)
        args = (padded.input_ids, padded.attention_mask, padded.position_ids, padded.vision)
        out = be.forward(*args, pre_norm=True)
        assert out.pre_norm is not None
        return out.pre_norm  # (B, L, H)

    states = pre_norm([prompt, longer])
    for b, seg in enumerate([prompt, longer]):
        alone = score_next_tokens(be, [seg], yes_no)
        assert (alone[0] - both[b]).abs().max() < 1e-4
        # the pre-norm state through the final norm and the LM head gives the logits back
        alone_states = pre_norm([seg])
        normed = be.model.model.language_model.norm(alone_states[0, -1])
        logits = be.model.lm_head(normed).log_softmax(-1)
        assert (logits[yes_no] - alone[0]).abs().max() < 1e-4
        n = len(seg)
        assert (alone_states[0] - states[b, :n]).abs().max() < 1e-4  # right-padded rows
    # the states are taken before the final norm (transformers' last hidden state is after it;
    # PreNormCapture, which forward uses, is checked against it in test_timestamp_head)
    norm = be.model.model.language_model.norm
    assert (norm(states) - states).abs().max() > 1e-2
