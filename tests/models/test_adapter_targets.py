"""Role adapters with >= 20 target modules (every real checkpoint: Qwen2-VL-2B has 112): peft
shortens the target list to suffixes such as "q_proj" before saving; they must load back."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from framescope.models.adapters import Roles
from framescope.models.tiny import model_class, model_config


def deep_model(seed: int = 0) -> torch.nn.Module:
    config = model_config("qwen2_vl", "tiny")
    config.text_config.num_hidden_layers = 6  # 24 attention projections
    config.text_config.layer_types = ["full_attention"] * 6
    torch.manual_seed(seed)
    return model_class("qwen2_vl")(config).eval()


def test_saved_suffix_targets_load_back(tmp_path: Path) -> None:
    roles = Roles.create(deep_model(), ["grounder", "planner"], trainable=False)
    with torch.no_grad():
        for name, p in roles.model.named_parameters():
            if "lora_B" in name:
                p.normal_(std=0.1)
    folders = roles.save(tmp_path)
    targets = json.loads((folders["grounder"] / "adapter_config.json").read_text())
    assert sorted(targets["target_modules"]) == ["k_proj", "o_proj", "q_proj", "v_proj"]
    again = Roles.load(deep_model(), folders)
    ids = torch.tensor([[5, 17, 250, 42, 99]])
    with torch.no_grad():
        for role in ("grounder", "planner", None):
            with roles.use(role):
                want = roles.model(input_ids=ids).logits
            with again.use(role):
                got = again.model(input_ids=ids).logits
            torch.testing.assert_close(got, want)
