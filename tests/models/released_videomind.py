"""A tiny VideoMind checkpoint in the layout VideoMind released, built the way its code built it.

The release trained on transformers 4.45, where ``Qwen2VLForConditionalGeneration`` held the text
model as ``.model`` (``model.layers.N…``, ``model.embed_tokens``), the vision tower as
``.visual`` and ``.lm_head``. :class:`Legacy445` re-exposes a current tiny Qwen2-VL's modules
under those names, so peft names, saves and configures the adapters exactly as it did for the
release (full target names ``model.layers.N.self_attn.q_proj``; weights
``base_model.model.model.layers…`` and ``base_model.model.model.embed_tokens.weight``). The head
is written from the release's key list (:func:`released_decoder_shapes`, written out by hand from
its ``model.py``, ``blocks.py`` and nncore's layers — never from framescope's module), fp16 with
the ``base_model.model.`` prefix; ``config.json`` carries the agent fields.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from peft import LoraConfig, get_peft_model
from safetensors.torch import load_file, save_file
from torch import nn

from framescope.models.tiny import (
    build_model,
    build_processor,
    perturb_adapters,
    save_tiny_model,
)

RELEASED_PREFIX = "base_model.model."  # the release saved its decoder from inside the PeftModel
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


def released_decoder_shapes(hidden: int, dims: int = 256) -> dict[str, tuple[int, ...]]:
    """Every tensor of the release's ``pytorch_model.safetensors`` (prefix removed), by hand from
    ``AgentQwen2VLForConditionalGeneration.__init__`` (the grounder's modules), ``blocks.py`` and
    nncore 0.4's ``TransformerEncoderLayer(256)`` / ``MultiHeadAttention`` /
    ``FeedForwardNetwork``: 93 tensors for the released D = 256 and any LLM width ``hidden``
    (1536 for the 2B, 3584 for the 7B)."""
    shapes: dict[str, tuple[int, ...]] = {}

    def norm(name: str, n: int) -> None:  # nn.LayerNorm(n)
        shapes.update({f"{name}.weight": (n,), f"{name}.bias": (n,)})

    def conv(name: str, out: int, k: int) -> None:  # nn.Conv1d(dims, out, k)
        shapes.update({f"{name}.weight": (out, dims, k), f"{name}.bias": (out,)})

    for proj in ("vis_proj", "reg_proj"):  # Sequential(LayerNorm(H), Linear(H, 256))
        norm(f"{proj}.0", hidden)
        shapes.update({f"{proj}.1.weight": (dims, hidden), f"{proj}.1.bias": (dims,)})
    norm("vis_norm", dims)
    for i in range(3):  # ModuleList of three TransformerEncoderLayer(256): heads 8, ratio 4
        layer = f"vis_fuse.{i}"
        for p in "qkvm":  # self_att = MultiHeadAttention: Linear q, k, v, m (256 -> 256)
            shapes.update({f"{layer}.self_att.{p}.weight": (dims, dims)})
            shapes.update({f"{layer}.self_att.{p}.bias": (dims,)})
        norm(f"{layer}.self_att_norm", dims)
        # ffn.mapping = Sequential(Linear(256, 1024), act, Linear(1024, 256)): no dropout layers
        shapes.update({f"{layer}.ffn.mapping.0.weight": (4 * dims, dims)})
        shapes.update({f"{layer}.ffn.mapping.0.bias": (4 * dims,)})
        shapes.update({f"{layer}.ffn.mapping.2.weight": (dims, 4 * dims)})
        shapes.update({f"{layer}.ffn.mapping.2.bias": (dims,)})
        norm(f"{layer}.ffn_norm", dims)
    for emb in ("vis_emb", "reg_emb"):  # LearnableEmbedding: Parameter(1, 1, dims)
        shapes[f"{emb}.weights"] = (1, 1, dims)
    # ConvPyramid, strides (1, 2, 4, 8): blocks[0] is the activation alone; blocks[k] repeats
    # [Permute, Conv1d(k=2, s=2), Permute, LayerNorm, act] k times in one Sequential
    for level in (1, 2, 3):
        for rep in range(level):
            conv(f"pyramid.blocks.{level}.{5 * rep + 1}", dims, 2)
            norm(f"pyramid.blocks.{level}.{5 * rep + 3}", dims)
    for head, out in (("class_head", 1), ("coord_head", 2)):  # ConvHead: Permute, conv, act, conv
        conv(f"{head}.module.1", dims, 3)
        conv(f"{head}.module.3", out, 3)
    shapes["coef.scale"] = (4,)  # Scale(strides)
    return shapes


def write_released_decoder(
    path: Path, shapes: dict[str, tuple[int, ...]], generator: torch.Generator
) -> dict[str, torch.Tensor]:
    """Random fp16 tensors under ``shapes``' names, saved as the release saved them (prefixed);
    returns them unprefixed. Trained-looking values: norms and level scales near 1, weights
    ~ 1/sqrt(fan-in), biases small."""
    state = {}
    for name, shape in shapes.items():
        x = torch.randn(shape, generator=generator)
        if len(shape) == 1:  # the 1-D weights are LayerNorms'; scales multiply too
            x = 0.1 * x if name.endswith("bias") else 1 + 0.1 * x
        else:
            x = x / math.prod(shape[1:]) ** 0.5
        state[name] = x.half()
    save_file(
        {RELEASED_PREFIX + k: v for k, v in state.items()}, str(path), metadata={"format": "pt"}
    )
    return state


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

    shapes = released_decoder_shapes(model.config.text_config.hidden_size)
    head_state = write_released_decoder(ckpt / "pytorch_model.safetensors", shapes, gen)

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
