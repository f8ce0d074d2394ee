"""Random-weight Qwen-VL checkpoints built offline: tokenizer, processor, config, weights.

Tests and the demo run the real transformers classes (``Qwen2VLForConditionalGeneration``,
``Qwen2_5_VLForConditionalGeneration``, ``Qwen3VLForConditionalGeneration`` and their processors)
on random weights, so the code path is the one a real checkpoint takes: :func:`save_tiny_model`
writes a complete folder that ``AutoProcessor.from_pretrained`` and
``AutoModelForImageTextToText.from_pretrained`` load without a network.

- Tokenizer: ``Qwen2Tokenizer`` (the class every Qwen-VL checkpoint names) over a byte-level BPE
  with the 256 byte symbols and no merges, so any text encodes; then Qwen's added tokens in Qwen's
  order, then framescope's method tokens (:data:`METHOD_TOKENS`). Every one is a single id.
- Chat templates: our own Jinja, behaving like each family's released template (see
  :func:`chat_template`).
- Presets: ``tiny`` (tests: text hidden 64, 2 layers, vision depth 2, small pixel budgets),
  ``train`` (~1 M parameters sized for training from scratch on a CPU: text hidden 128, 4 layers,
  the released initialisation; the synthetic-world reproduction and the shipped default model),
  ``small`` (CPU benchmarks: text hidden 512, 8 layers) and ``7b`` (Qwen2.5-VL only: the released
  7B shapes, for GPU timing; build it on the device, never in tests).
- Number vocabulary (``numbers=True``): whole tokens for the integers 0-99 and the one-decimal
  numbers 0.0-99.9 (:data:`NUMBER_TOKENS`), so a time in a ``<12.3 seconds>`` frame stamp and in
  a ``12.30 - 14.50`` answer is the same single token — writing a span becomes copying visible
  tokens instead of spelling digits. Qwen's real tokenizers split numbers into single digits;
  this is a property of the offline models only. Tied embeddings follow the
  checkpoints the methods use: Qwen2-VL-2B (VideoMind) and Qwen3-VL-4B (DynFrame) tie,
  Qwen2.5-VL-7B does not.

What the processors do with a video (transformers 5.23; ``t`` = temporal patches = frames / 2,
``h``, ``w`` = patches of 14 px, 16 px for Qwen3-VL; 2×2 of them merge into one token):

- Qwen2-VL, Qwen2.5-VL: the template writes ``<|vision_start|><|video_pad|><|vision_end|>`` and
  the processor repeats the pad ``t·h·w/4`` times. No time in the text; Qwen2.5-VL's processor
  returns ``second_per_grid_ts = 2 / sampled_fps`` per clip (``sampled_fps`` = frames_indices
  count / total_num_frames × fps of the ``video_metadata``; without metadata it assumes 24 fps).
- Qwen3-VL: the pad becomes, per temporal patch ``k``, ``<{s_k:.1f} seconds><|vision_start|>`` +
  ``h·w/4`` pads + ``<|vision_end|>``, with ``s_k`` the mean of its two frames'
  ``frames_indices / fps`` (clip-relative unless the metadata encodes absolute frame numbers;
  Python's rounding, so 0.25 → "0.2"). 5.23 replaces only the pad, so the template's outer
  ``<|vision_start|>``…``<|vision_end|>`` stays around the blocks; Qwen's own processor (4.57)
  replaced the whole triple, giving the per-patch blocks alone (the layout DynFrame splices). Our
  template renders like the released one, so a tiny and a real checkpoint behave alike; text
  that wants the reference layout carries a bare ``<|video_pad|>``.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import torch

from framescope.errors import ModelError
from framescope.families import FAMILIES as REGISTRY
from framescope.models.rope import FAMILIES

PRESETS = ("tiny", "train", "small", "7b")

# Qwen's added tokens in the order of the released tokenizers (ids 151643… there, 256… here).
# ``True`` = special (dropped by ``skip_special_tokens``), as in the released tokenizer configs.
QWEN_TOKENS: tuple[tuple[str, bool], ...] = (
    ("<|endoftext|>", True),
    ("<|im_start|>", True),
    ("<|im_end|>", True),
    ("<|object_ref_start|>", True),
    ("<|object_ref_end|>", True),
    ("<|box_start|>", True),
    ("<|box_end|>", True),
    ("<|quad_start|>", True),
    ("<|quad_end|>", True),
    ("<|vision_start|>", True),
    ("<|vision_end|>", True),
    ("<|vision_pad|>", True),
    ("<|image_pad|>", True),
    ("<|video_pad|>", True),
    ("<tool_call>", False),
    ("</tool_call>", False),
    ("<|fim_prefix|>", False),
    ("<|fim_middle|>", False),
    ("<|fim_suffix|>", False),
    ("<|fim_pad|>", False),
    ("<|repo_name|>", False),
    ("<|file_sep|>", False),
    ("<tool_response>", False),
    ("</tool_response>", False),
    ("<think>", False),
    ("</think>", False),
)
# DynFrame's retrieval tokens stay in decoded text (the retrieval grammar parses them), so they are
# not special; VideoMind's are control tokens the runtime finds by id.
DYNFRAME_TOKENS: tuple[tuple[str, bool], ...] = (
    ("<span>", False),
    ("</span>", False),
    ("<fps>", False),
    ("</fps>", False),
)
VIDEOMIND_TOKENS: tuple[tuple[str, bool], ...] = (
    ("<|reg|>", True),
    ("<|seg_start|>", True),
    ("<|seg_end|>", True),
)
METHOD_TOKENS = DYNFRAME_TOKENS + VIDEOMIND_TOKENS
TINY_VOCAB_SIZE = 320  # 256 bytes + 33 added tokens, padded like Qwen pads its embedding rows
# The number vocabulary: "0"…"99", then "0.0"…"99.9" (added tokens match leftmost-longest, so
# "12.30" is "12.3" + "0" and "<fps>10</fps>" holds "10").
NUMBER_TOKENS: tuple[str, ...] = (
    *(str(n) for n in range(100)),
    *(f"{n // 10}.{n % 10}" for n in range(1000)),
)
NUMBERS_VOCAB_SIZE = 1408  # 320 + 1100 number tokens would be 1389; padded to a multiple of 64


def vocab_size(numbers: bool = False) -> int:
    """Embedding rows of the offline models (the ``7b`` preset aside)."""
    return NUMBERS_VOCAB_SIZE if numbers else TINY_VOCAB_SIZE


def build_tokenizer(numbers: bool = False, dynframe_tokens: bool = True) -> Any:
    """The offline tokenizer shared by all families (a ``Qwen2Tokenizer``); ``numbers`` adds the
    number vocabulary (:data:`NUMBER_TOKENS`) after the method tokens; ``dynframe_tokens=False``
    leaves DynFrame's four tokens out, like a stock Qwen-VL tokenizer (DynFrame's SFT adds
    them)."""
    from tokenizers import AddedToken
    from transformers.convert_slow_tokenizer import bytes_to_unicode
    from transformers.models.qwen2.tokenization_qwen2 import Qwen2Tokenizer

    byte_symbols = bytes_to_unicode()
    vocab = {byte_symbols[b]: b for b in range(256)}  # token id == byte value
    tok = Qwen2Tokenizer(vocab=vocab, merges=[], errors="replace")  # adds <|endoftext|> as id 256
    method = METHOD_TOKENS if dynframe_tokens else VIDEOMIND_TOKENS
    for text, special in (*QWEN_TOKENS[1:], *method):
        tok.add_tokens(
            [AddedToken(text, special=special, normalized=False)], special_tokens=special
        )
    if numbers:
        tok.add_tokens([AddedToken(n, special=False, normalized=False) for n in NUMBER_TOKENS])
    tok.eos_token = "<|im_end|>"  # instruct checkpoints stop on <|im_end|>; pad stays <|endoftext|>
    tok.model_max_length = 32768
    return tok


# Qwen2-VL and Qwen2.5-VL ship the same template: a default system prompt, then each content item
# of a message in order; an image or video becomes <|vision_start|><|image_pad|/|video_pad|><|vision_end|>
# (optionally labelled "Picture N: " / "Video N: "), and the processor expands the pad token.
_QWEN2_TEMPLATE = (
    "{%- set image_count = namespace(value=0) -%}"
    "{%- set video_count = namespace(value=0) -%}"
    "{%- for message in messages -%}"
    "{%- if loop.first and message['role'] != 'system' -%}"
    "{{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' -}}"
    "{%- endif -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' -}}"
    "{%- if message['content'] is string -%}{{- message['content'] -}}"
    "{%- else -%}{%- for item in message['content'] -%}"
    "{%- if item['type'] == 'image' or 'image' in item or 'image_url' in item -%}"
    "{%- set image_count.value = image_count.value + 1 -%}"
    "{%- if add_vision_id -%}{{- 'Picture ' ~ image_count.value ~ ': ' -}}{%- endif -%}"
    "{{- '<|vision_start|><|image_pad|><|vision_end|>' -}}"
    "{%- elif item['type'] == 'video' or 'video' in item -%}"
    "{%- set video_count.value = video_count.value + 1 -%}"
    "{%- if add_vision_id -%}{{- 'Video ' ~ video_count.value ~ ': ' -}}{%- endif -%}"
    "{{- '<|vision_start|><|video_pad|><|vision_end|>' -}}"
    "{%- elif 'text' in item -%}{{- item['text'] -}}"
    "{%- endif -%}{%- endfor -%}{%- endif -%}"
    "{{- '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)

# Qwen3-VL: no default system prompt; vision items render as in Qwen2-VL (the processor turns each
# <|video_pad|> into one "<t seconds><|vision_start|>…<|vision_end|>" block per temporal patch);
# an assistant turn after the last user turn keeps its reasoning as "<think>\n…\n</think>\n\n"
# (from ``reasoning_content`` or a "</think>" inside the content), earlier turns drop it; tool
# results go back as a user turn wrapped in <tool_response>. The released Thinking checkpoints
# always open "<think>\n" after the generation prompt; here ``enable_thinking=True`` does that.
_QWEN3_TEMPLATE = (
    "{%- macro render(content) -%}"
    "{%- if content is string -%}{{- content -}}"
    "{%- else -%}{%- for item in content -%}"
    "{%- if item['type'] == 'image' or 'image' in item or 'image_url' in item -%}"
    "{{- '<|vision_start|><|image_pad|><|vision_end|>' -}}"
    "{%- elif item['type'] == 'video' or 'video' in item -%}"
    "{{- '<|vision_start|><|video_pad|><|vision_end|>' -}}"
    "{%- elif 'text' in item -%}{{- item['text'] -}}"
    "{%- endif -%}{%- endfor -%}{%- endif -%}"
    "{%- endmacro -%}"
    "{%- set ns = namespace(last_query=-1) -%}"
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'user' -%}{%- set ns.last_query = loop.index0 -%}{%- endif -%}"
    "{%- endfor -%}"
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'assistant' -%}"
    "{%- set content = render(message['content']) -%}"
    "{%- set reasoning = message['reasoning_content'] if message['reasoning_content'] is string else '' -%}"
    "{%- if '</think>' in content -%}"
    "{%- set reasoning = content.split('</think>')[0].split('<think>')[-1].strip('\\n') -%}"
    "{%- set content = content.split('</think>')[-1].lstrip('\\n') -%}"
    "{%- endif -%}"
    "{{- '<|im_start|>assistant\\n' -}}"
    "{%- if loop.index0 > ns.last_query and reasoning -%}"
    "{{- '<think>\\n' + reasoning + '\\n</think>\\n\\n' -}}"
    "{%- endif -%}"
    "{{- content + '<|im_end|>\\n' -}}"
    "{%- elif message['role'] == 'tool' -%}"
    "{{- '<|im_start|>user\\n<tool_response>\\n' + render(message['content']) -}}"
    "{{- '\\n</tool_response><|im_end|>\\n' -}}"
    "{%- else -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + render(message['content']) + '<|im_end|>\\n' -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}"
    "{%- if enable_thinking -%}{{- '<think>\\n' -}}{%- endif -%}"
    "{%- endif -%}"
)


def chat_template(family: str) -> str:
    """The Jinja chat template for ``family`` (our own, behaving like the released one)."""
    _check_family(family)
    return _QWEN3_TEMPLATE if family == "qwen3_vl" else _QWEN2_TEMPLATE


def _check_family(family: str) -> None:
    if family not in FAMILIES:
        raise ModelError(f"unknown model family {family!r}; expected one of {', '.join(FAMILIES)}")


def _check_preset(family: str, preset: str) -> None:
    _check_family(family)
    if preset not in PRESETS:
        raise ModelError(f"unknown preset {preset!r}; expected one of {', '.join(PRESETS)}")
    if preset == "7b" and family != "qwen2_5_vl":
        raise ModelError("the 7b preset exists for qwen2_5_vl only")


def _token_ids() -> dict[str, int]:
    """Ids of the tokens the configs name, fixed by the order in :func:`build_tokenizer`."""
    names = [t for t, _ in QWEN_TOKENS]
    offset = 256
    return {
        "endoftext": offset + names.index("<|endoftext|>"),
        "im_end": offset + names.index("<|im_end|>"),
        "vision_start": offset + names.index("<|vision_start|>"),
        "vision_end": offset + names.index("<|vision_end|>"),
        "image_pad": offset + names.index("<|image_pad|>"),
        "video_pad": offset + names.index("<|video_pad|>"),
    }


# Text-model shapes per preset: hidden, intermediate, layers, heads, kv heads, mrope sections
# (Qwen2/2.5: contiguous chunks of head_dim/2; Qwen3: interleaved, 3·max(h, w) ≤ head_dim/2).
_TEXT: dict[str, dict[str, Any]] = {
    "tiny": dict(hidden=64, inter=128, layers=2, heads=4, kv=2, mrope2=[2, 3, 3], mrope3=[4, 2, 2]),
    "train": dict(
        hidden=128, inter=384, layers=4, heads=4, kv=2, mrope2=[4, 6, 6], mrope3=[6, 5, 5]
    ),
    "small": dict(
        hidden=512, inter=1376, layers=8, heads=8, kv=2, mrope2=[8, 12, 12], mrope3=[12, 10, 10]
    ),
    "7b": dict(
        hidden=3584, inter=18944, layers=28, heads=28, kv=4, mrope2=[16, 24, 24], mrope3=None
    ),
}
# Vision-tower shapes per preset: depth, width, heads, MLP width.
_VISION: dict[str, dict[str, int]] = {
    "tiny": dict(depth=2, hidden=32, heads=2, inter=64),
    "train": dict(depth=2, hidden=64, heads=2, inter=128),
    "small": dict(depth=4, hidden=256, heads=4, inter=512),
    "7b": dict(depth=32, hidden=1280, heads=16, inter=3420),
}


def model_config(family: str, preset: str = "tiny", numbers: bool = False) -> Any:
    """The transformers config of ``family`` at ``preset``, token ids matching :func:`build_tokenizer`
    (``numbers``: with the number vocabulary).

    ``7b`` has the released Qwen2.5-VL-7B shapes (8.3 B parameters, vocabulary 152064); building
    its config is free, building its weights is not.
    """
    from transformers import Qwen2_5_VLConfig, Qwen2VLConfig, Qwen3VLConfig

    _check_preset(family, preset)
    ids = _token_ids()
    t, v = _TEXT[preset], _VISION[preset]
    vocab = 152064 if preset == "7b" else vocab_size(numbers)  # the 7B's real lm_head cost
    tiny = preset == "tiny"
    small = preset in ("tiny", "train")  # short sequences, 2-block vision tower, small frames
    text: dict[str, Any] = dict(
        vocab_size=vocab,
        hidden_size=t["hidden"],
        intermediate_size=t["inter"],
        num_hidden_layers=t["layers"],
        num_attention_heads=t["heads"],
        num_key_value_heads=t["kv"],
        rms_norm_eps=1e-6,
        # Tiny only: with the released init (0.02) and rope theta (1e6), attention in a 64-wide
        # model is so flat that a wrong height/width id moves a tiny Qwen2-VL's logits by ~1e-7;
        # init 0.2 and theta 1e4 make every rope axis visible (~1e-2) to 1e-4 equality tests.
        initializer_range=0.2 if tiny else 0.02,
        bos_token_id=ids["endoftext"],
        eos_token_id=ids["im_end"],
        pad_token_id=ids["endoftext"],
    )
    token_ids: dict[str, Any] = dict(
        image_token_id=ids["image_pad"],
        video_token_id=ids["video_pad"],
        vision_start_token_id=ids["vision_start"],
        vision_end_token_id=ids["vision_end"],
    )
    if family == "qwen3_vl":
        text.update(
            head_dim=t["hidden"] // t["heads"],
            max_position_embeddings=262144,
            rope_parameters=dict(
                rope_type="default",
                rope_theta=10_000.0 if small else 5_000_000.0,
                mrope_section=t["mrope3"],
                mrope_interleaved=True,
            ),
        )
        vision = dict(
            depth=v["depth"],
            hidden_size=v["hidden"],
            num_heads=v["heads"],
            intermediate_size=v["inter"],
            out_hidden_size=t["hidden"],
            patch_size=16,
            spatial_merge_size=2,
            temporal_patch_size=2,
            num_position_embeddings=256 if small else 2304,
            deepstack_visual_indexes=[0] if small else [1, 2, 3],
            hidden_act="gelu_pytorch_tanh",
        )
        return Qwen3VLConfig(
            text_config=text, vision_config=vision, tie_word_embeddings=True, **token_ids
        )
    text.update(
        max_position_embeddings=128000 if family == "qwen2_5_vl" else 32768,
        rope_parameters=dict(
            rope_type="default",
            rope_theta=10_000.0 if small else 1_000_000.0,
            mrope_section=t["mrope2"],
        ),
    )
    if family == "qwen2_vl":
        vision = dict(
            depth=v["depth"],
            embed_dim=v["hidden"],
            num_heads=v["heads"],
            mlp_ratio=v["inter"] // v["hidden"],
            hidden_size=t["hidden"],  # Qwen2-VL's merger projects straight to the text width
            patch_size=14,
            spatial_merge_size=2,
            temporal_patch_size=2,
        )
        return Qwen2VLConfig(
            text_config=text, vision_config=vision, tie_word_embeddings=True, **token_ids
        )
    vision = dict(
        depth=v["depth"],
        hidden_size=v["hidden"],
        num_heads=v["heads"],
        intermediate_size=v["inter"],
        out_hidden_size=t["hidden"],
        patch_size=14,
        spatial_merge_size=2,
        temporal_patch_size=2,
        tokens_per_second=2,  # the released Qwen2.5-VL checkpoints' value
        window_size=112,
        fullatt_block_indexes=[v["depth"] // 4 * k - 1 for k in range(1, 5)]
        if v["depth"] >= 8
        else [v["depth"] - 1],
        hidden_act="silu",
    )
    return Qwen2_5_VLConfig(
        text_config=text, vision_config=vision, tie_word_embeddings=False, **token_ids
    )


# Pixel bounds of the tiny preset, small enough that a 64×64 frame stays 64×64 (Qwen3-VL) or
# 56×56 (Qwen2/2.5-VL): 4 merged tokens per temporal patch. Other presets keep the released bounds.
# Qwen2-VL's video bounds are per frame, Qwen3-VL's are over the whole clip (t·h·w).
_TINY_PIXELS = {
    "image14": {"shortest_edge": 28 * 28 * 4, "longest_edge": 28 * 28 * 16},
    "video14": {"shortest_edge": 28 * 28 * 4, "longest_edge": 28 * 28 * 16},
    "image16": {"shortest_edge": 32 * 32 * 4, "longest_edge": 32 * 32 * 16},
    "video16": {"shortest_edge": 32 * 32 * 4, "longest_edge": 32 * 32 * 64},
}


def build_processor(
    family: str, preset: str = "tiny", tokenizer: Any = None, numbers: bool = False
) -> Any:
    """The family's real processor class around :func:`build_tokenizer` (``numbers``: with the
    number vocabulary) and our chat template. ``train`` has the ``tiny`` pixel bounds; training
    recipes set their own (``video.min_pixels``/``max_pixels``)."""
    from transformers import (
        Qwen2_5_VLProcessor,
        Qwen2VLImageProcessor,
        Qwen2VLProcessor,
        Qwen2VLVideoProcessor,
        Qwen3VLProcessor,
        Qwen3VLVideoProcessor,
    )

    _check_preset(family, preset)
    tokenizer = tokenizer if tokenizer is not None else build_tokenizer(numbers)
    tiny = preset in ("tiny", "train")
    image: Any
    video: Any
    cls: Any
    # cap_pixels_per_frame=True is qwen-vl-utils' (the reference) behaviour and transformers'
    # announced default; setting it also keeps the processors from warning on every load.
    if family == "qwen3_vl":
        half = dict(image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5])
        image = Qwen2VLImageProcessor(
            patch_size=16,
            merge_size=2,
            temporal_patch_size=2,
            **half,
            **({"size": _TINY_PIXELS["image16"]} if tiny else {}),
        )
        video = Qwen3VLVideoProcessor(
            cap_pixels_per_frame=True, **({"size": _TINY_PIXELS["video16"]} if tiny else {})
        )
        cls = Qwen3VLProcessor
    else:
        image = Qwen2VLImageProcessor(
            patch_size=14,
            merge_size=2,
            temporal_patch_size=2,
            **({"size": _TINY_PIXELS["image14"]} if tiny else {}),
        )
        video = Qwen2VLVideoProcessor(
            cap_pixels_per_frame=True, **({"size": _TINY_PIXELS["video14"]} if tiny else {})
        )
        cls = Qwen2_5_VLProcessor if family == "qwen2_5_vl" else Qwen2VLProcessor
    return cls(
        image_processor=image,
        tokenizer=tokenizer,
        video_processor=video,
        chat_template=chat_template(family),
    )


def model_class(family: str) -> type:
    """The transformers ``…ForConditionalGeneration`` class of ``family``."""
    _check_family(family)
    return REGISTRY[family].transformers_class()


def build_model(
    family: str,
    preset: str = "tiny",
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
    numbers: bool = False,
) -> Any:
    """A random-weight model of ``family``, built directly in ``dtype`` on ``device``
    (``numbers``: embedding rows for the number vocabulary).

    The same ``seed`` gives the same weights on the same device type. The caller's random state
    is left as it was. For the ``7b`` preset use ``dtype=torch.bfloat16`` on a GPU.
    """
    from transformers import AutoModelForImageTextToText, GenerationConfig

    config = model_config(family, preset, numbers)
    ids = _token_ids()
    device = torch.device(device)
    forked = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=forked), device:
        torch.manual_seed(seed)
        model = AutoModelForImageTextToText.from_config(config, dtype=dtype)
    model.generation_config = GenerationConfig(
        bos_token_id=ids["endoftext"],
        eos_token_id=[ids["im_end"], ids["endoftext"]],
        pad_token_id=ids["endoftext"],
        do_sample=False,  # the released configs sample; random weights only make sense greedy
    )
    return model.eval()


def perturb_adapters(
    model: torch.nn.Module, generator: torch.Generator, lora_std: float, copy_std: float
) -> None:
    """Make peft role adapters look trained (peft starts LoRA B at 0, so a fresh role equals the
    base): every LoRA weight redrawn as N(0, ``lora_std``²), every saved module copy
    (``modules_to_save``) moved by N(0, ``copy_std``²) noise, in parameter order."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_" in name:
                p.copy_(torch.randn(p.shape, generator=generator) * lora_std)
            elif "modules_to_save" in name:
                p.add_(torch.randn(p.shape, generator=generator) * copy_std)


def save_tiny_model(
    family: str,
    out_dir: str | os.PathLike[str],
    preset: str = "tiny",
    seed: int = 0,
    overwrite: bool = False,
    numbers: bool = False,
    dynframe_tokens: bool = True,
) -> Path:
    """Write a complete checkpoint folder (config, safetensors, tokenizer, processor, template);
    ``numbers``: with the number vocabulary; ``dynframe_tokens=False``: a tokenizer without
    DynFrame's tokens (a stock base).

    The folder is assembled beside ``out_dir`` and renamed into place, so a reader never sees half
    a checkpoint. An existing non-empty ``out_dir`` is an error unless ``overwrite``.
    """
    _check_preset(family, preset)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ModelError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ModelError(f"{out}: folder is not empty; overwrite=True (CLI: --force) replaces it")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.{uuid.uuid4().hex}.tmp"
    tmp.mkdir()  # unlike mkdtemp, honours the umask: the checkpoint is as readable as any folder
    try:
        # bf16 for the 7b preset: ~16 GB on disk instead of ~33 GB
        dtype = torch.bfloat16 if preset == "7b" else torch.float32
        build_model(family, preset, seed, dtype=dtype, numbers=numbers).save_pretrained(tmp)
        tokenizer = build_tokenizer(numbers, dynframe_tokens)
        build_processor(family, preset, tokenizer, numbers=numbers).save_pretrained(tmp)
        _replace_dir(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _replace_dir(new: Path, target: Path) -> None:
    """Rename ``new`` to ``target``; an existing ``target`` is moved aside first, then removed."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
    os.replace(new, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
