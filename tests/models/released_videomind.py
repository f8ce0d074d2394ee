"""A tiny VideoMind checkpoint in the layout VideoMind released, built the way its code built it.

The release trained on transformers 4.45, where ``Qwen2VLForConditionalGeneration`` held the text
model as ``.model`` (``model.layers.N…``, ``model.embed_tokens``), the vision tower as
``.visual`` and ``.lm_head``. :class:`Legacy445` re-exposes a current tiny Qwen2-VL's modules
under those names, so peft names, saves and configures the adapters exactly as it did for the
release (full target names ``model.layers.N.self_attn.q_proj``; weights
``base_model.model.model.layers…`` and ``base_model.model.model.embed_tokens.weight``). The head
is saved fp16 with the ``base_model.model.`` prefix; ``config.json`` carries the agent fields.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from peft import LoraConfig, get_peft_model
from safetensors.torch import load_file, save_file
from torch import nn

from framescope.models.timestamp_head import RELEASED_PREFIX, TimestampHead
from framescope.models.tiny import (
    build_model,
    build_processor,
    perturb_adapters,
    save_tiny_model,
)

ROLE_NAMES = ("grounder", "verifier", "planner")
# The keys peft 0.13/0.14 wrote into adapter_config.json (the release's era); newer keys dropped.
OLD_PEFT_KEYS = {
    "alpha_pattern",
    "auto_mapping",
    "base_model_name_or_path",
    "bias",
    "fan_in_fan_out",
    "inference_mode",
    "init_lora_weights",
    "layer_replication",
    "layers_pattern",
    "layers_to_transform",
    "loftq_config",
    "lora_alpha",
    "lora_dropout",
    "megatron_config",
    "megatron_core",
    "modules_to_save",
    "peft_type",
    "r",
    "rank_pattern",
    "revision",
    "target_modules",
    "task_type",
    "use_dora",
    "use_rslora",
}


class Legacy445(nn.Module):
    """A current Qwen2-VL's modules under transformers 4.45's attribute names (shared, not copied)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.visual = model.model.visual
        self.model = model.model.language_model
        self.lm_head = model.lm_head
        self.config = model.config


@dataclass
class ReleasedFixture:
    ckpt: Path
    base: Path
    head_state: dict[str, torch.Tensor]  # unprefixed, fp16 as saved
    token_ids: dict[str, int]


def build_released_checkpoint(root: Path, seed: int = 0) -> ReleasedFixture:
    """``root/Qwen2-VL-tiny`` (the base) and ``root/VideoMind-tiny`` (the released layout)."""
    base_dir = save_tiny_model("qwen2_vl", root / "Qwen2-VL-tiny")
    ckpt = root / "VideoMind-tiny"
    ckpt.mkdir()
    model = build_model("qwen2_vl")  # the same seed-0 weights as the saved base
    layers = model.config.text_config.num_hidden_layers
    targets = [f"model.layers.{i}.self_attn.{p}_proj" for i in range(layers) for p in "qkvo"]
    shell = Legacy445(model)
    peft_model = None
    for role in ROLE_NAMES:
        config = LoraConfig(
            r=64,
            lora_alpha=64,
            lora_dropout=0.1,
            target_modules=list(targets),
            modules_to_save=["embed_tokens", "lm_head"] if role != "planner" else None,
        )
        if peft_model is None:
            peft_model = get_peft_model(shell, config, adapter_name=role)
        else:
            peft_model.add_adapter(role, config)
    gen = torch.Generator().manual_seed(seed)
    perturb_adapters(peft_model, gen, 0.05, 0.3)  # trained-looking: LoRA B non-zero, copies moved
    for role in ROLE_NAMES:
        peft_model.peft_config[role].task_type = "CAUSAL_LM"
    peft_model.save_pretrained(ckpt)  # non-default adapter names: ckpt/<role>/
    (ckpt / "README.md").unlink(missing_ok=True)
    for role in ROLE_NAMES:
        path = ckpt / role / "adapter_config.json"
        raw = json.loads(path.read_text())
        raw = {k: v for k, v in raw.items() if k in OLD_PEFT_KEYS}
        raw["base_model_name_or_path"] = "model_zoo/Qwen2-VL-2B-Instruct"  # as trained, elsewhere
        raw["target_modules"] = sorted(raw["target_modules"])
        path.write_text(json.dumps(raw, indent=2))

    torch.manual_seed(seed)
    head = TimestampHead(model.config.text_config.hidden_size)
    with torch.no_grad():
        for p in head.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.1)
    head_state = {k: v.half() for k, v in head.state_dict().items()}
    save_file(
        {RELEASED_PREFIX + k: v for k, v in head_state.items()},
        str(ckpt / "pytorch_model.safetensors"),
        metadata={"format": "pt"},
    )

    processor = build_processor("qwen2_vl")
    processor.save_pretrained(ckpt)
    tok = processor.tokenizer
    token_ids = {
        "reg_token_id": tok.convert_tokens_to_ids("<|reg|>"),
        "seg_s_token_id": tok.convert_tokens_to_ids("<|seg_start|>"),
        "seg_e_token_id": tok.convert_tokens_to_ids("<|seg_end|>"),
    }
    config = model.config.to_dict()
    flat = {**config.pop("text_config"), **config}  # 4.45 kept the text fields at the top level
    flat.update(
        model_type="agent_qwen2_vl",
        architectures=["AgentQwen2VLForConditionalGeneration"],
        role="grounder",
        base_model="qwen2_vl",
        base_model_path=str(base_dir),
        **token_ids,
    )
    (ckpt / "config.json").write_text(json.dumps(flat, indent=2))
    return ReleasedFixture(ckpt, base_dir, head_state, token_ids)


def apply_role_by_hand(model: nn.Module, folder: Path) -> nn.Module:
    """``model`` (a current tiny Qwen2-VL) with a saved role folder applied directly: W += α/r·BA
    on each target, embed_tokens/lm_head replaced by the saved (untied) copies."""
    config = json.loads((folder / "adapter_config.json").read_text())
    scale = config["lora_alpha"] / config["r"]
    weights = load_file(str(folder / "adapter_model.safetensors"))
    text = model.model.language_model
    with torch.no_grad():
        for key, a in weights.items():
            if not key.endswith("lora_A.weight"):
                continue
            b = weights[key.replace("lora_A", "lora_B")]
            path = key.removeprefix("base_model.model.model.").removesuffix(".lora_A.weight")
            text.get_submodule(path).weight += scale * (b @ a)
        if "base_model.model.model.embed_tokens.weight" in weights:
            text.embed_tokens.weight = nn.Parameter(
                weights["base_model.model.model.embed_tokens.weight"].clone()
            )
            model.lm_head.weight = nn.Parameter(weights["base_model.model.lm_head.weight"].clone())
    return model
