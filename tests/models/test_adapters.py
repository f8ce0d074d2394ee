"""Role adapters on one tiny Qwen2-VL: configs, switching (the release's failure mode reproduced
first, then the context manager), nesting, save/load in the released naming, training flags, and
the measured switch time (printed, never asserted)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from framescope.errors import ModelError
from framescope.models.adapters import (
    Roles,
    attention_modules,
    role_config,
    to_current_name,
    to_released_name,
)
from framescope.models.tiny import build_model, perturb_adapters

IDS = torch.tensor([[5, 17, 250, 300, 286, 42, 43, 256, 1, 99]])


def randomise(roles: Roles, seed: int = 0) -> Roles:
    """Trained-looking adapters: LoRA B non-zero, embedding copies moved off the base."""
    perturb_adapters(roles.model, torch.Generator().manual_seed(seed), 0.05, 0.3)
    return roles


@pytest.fixture(params=[False, True], ids=["frozen", "trainable"])
def roles(request: pytest.FixtureRequest) -> Roles:
    """Both switching paths: flags only (frozen) and peft's setters (trainable)."""
    made = Roles.create(build_model("qwen2_vl"), trainable=request.param)
    made.model.eval()  # no LoRA dropout in either
    return randomise(made)


def module_states(roles: Roles) -> list[tuple[bool, list[str]]]:
    from peft.tuners.tuners_utils import BaseTunerLayer
    from peft.utils.other import ModulesToSaveWrapper

    return [
        (m.disable_adapters, list(m.active_adapters))
        for m in roles.model.modules()
        if isinstance(m, (BaseTunerLayer, ModulesToSaveWrapper))
    ]


def test_frozen_switch_leaves_the_state_peft_would() -> None:
    """The frozen path's flags equal what peft's own setters leave, for every switch."""
    frozen = Roles.create(build_model("qwen2_vl"), trainable=False)
    setters = Roles.create(build_model("qwen2_vl"), trainable=True)
    for role in ("planner", "grounder", None, "verifier", "planner", None, "grounder"):
        frozen._apply(role)
        setters._apply(role)
        assert module_states(frozen) == module_states(setters)
        assert frozen.model.active_adapter == setters.model.active_adapter
    assert not any(p.requires_grad for p in frozen.model.parameters())


def logits(roles: Roles, role: str | None) -> torch.Tensor:
    with torch.no_grad(), roles.use(role):
        return roles.model(input_ids=IDS).logits


def run(model: Any) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=IDS).logits


def test_configs_follow_the_release() -> None:
    model = build_model("qwen2_vl")
    names = attention_modules(model)
    assert len(names) == 2 * 4  # 2 layers x q/k/v/o (the 2B: 28 x 4 = 112)
    assert all(n.startswith("model.language_model.layers.") for n in names)
    grounder, planner = role_config("grounder", model), role_config("planner", model)
    assert (grounder.r, grounder.lora_alpha, grounder.lora_dropout) == (64, 64, 0.1)
    assert sorted(grounder.modules_to_save) == ["embed_tokens", "lm_head"]
    assert planner.modules_to_save is None
    with pytest.raises(ModelError, match="unknown role"):
        role_config("answerer", model)


def test_module_names_map_both_ways() -> None:
    model = build_model("qwen2_vl")
    assert (
        to_current_name("model.layers.3.self_attn.q_proj", model)
        == "model.language_model.layers.3.self_attn.q_proj"
    )
    assert (
        to_current_name("model.embed_tokens.weight", model)
        == "model.language_model.embed_tokens.weight"
    )
    assert to_current_name("lm_head.weight", model) == "lm_head.weight"
    assert (
        to_current_name("model.visual.blocks.0.attn.qkv", model) == "model.visual.blocks.0.attn.qkv"
    )
    assert (
        to_released_name("model.language_model.layers.3.self_attn.q_proj")
        == "model.layers.3.self_attn.q_proj"
    )


def test_roles_differ_and_answerer_is_the_base(roles: Roles) -> None:
    base = run(build_model("qwen2_vl"))
    outs = {r: logits(roles, r) for r in ("planner", "grounder", "verifier", None)}
    torch.testing.assert_close(outs[None], base, atol=0, rtol=0)
    for a in ("planner", "grounder", "verifier"):
        assert not torch.allclose(outs[a], base, atol=1e-3)
        for b in ("planner", "grounder", "verifier"):
            assert a == b or not torch.allclose(outs[a], outs[b], atol=1e-3)
    assert roles.active is None  # every block restored the previous (initial) state


def old_peft_set_adapter(model: Any, role: str) -> None:
    """``set_adapter`` as peft 0.11–0.14 did it (PR #1615): LoRA layers switch, and every
    ``modules_to_save`` wrapper lacking the role is *disabled*; a later ``set_adapter`` only
    changed the active copy and never re-enabled a wrapper (fixed in peft PR #2430)."""
    from peft.utils.other import ModulesToSaveWrapper

    model.set_adapter(role)
    for module in model.modules():
        if isinstance(module, ModulesToSaveWrapper) and role not in module.modules_to_save:
            module.enable_adapters(False)


def test_release_failure_mode_then_the_context_manager(roles: Roles) -> None:
    """After the planner, the grounder ran with the base embed_tokens/lm_head in the release."""
    want = logits(roles, "grounder")
    model = roles.model
    model.base_model.enable_adapter_layers()
    old_peft_set_adapter(model, "planner")
    run(model)  # the planner runs
    model.set_adapter("grounder")  # what a plain switch back did under those peft versions
    broken = run(model)
    assert not torch.allclose(broken, want, atol=1e-3)
    wrapper = model.get_base_model().lm_head
    assert wrapper.disable_adapters and wrapper.active_adapters == ["grounder"]  # copies left off
    with roles.use("grounder"):
        torch.testing.assert_close(run(model), want, atol=0, rtol=0)


def test_disable_by_hand_then_set_adapter(roles: Roles) -> None:
    """With current peft, an Answerer done by ``disable_adapter_layers`` survives a later
    ``set_adapter``: the grounder silently runs as the base. ``use`` does not care."""
    want, base = logits(roles, "grounder"), logits(roles, None)
    model = roles.model
    model.set_adapter("planner")
    model.base_model.disable_adapter_layers()
    model.set_adapter("grounder")
    torch.testing.assert_close(run(model), base, atol=0, rtol=0)
    with roles.use("grounder"):
        torch.testing.assert_close(run(model), want, atol=0, rtol=0)


def test_plain_set_adapter_is_fixed_upstream(roles: Roles) -> None:
    """For the record: on this peft, planner → grounder by ``set_adapter`` alone is right."""
    want = logits(roles, "grounder")
    model = roles.model
    model.base_model.enable_adapter_layers()
    model.set_adapter("planner")
    run(model)
    model.set_adapter("grounder")
    torch.testing.assert_close(run(model), want, atol=0, rtol=0)


def test_nesting_and_errors_restore(roles: Roles) -> None:
    ref = {r: logits(roles, r) for r in ("planner", "grounder", "verifier", None)}
    with roles.use("grounder"):
        with roles.use("verifier"):
            torch.testing.assert_close(run(roles.model), ref["verifier"], atol=0, rtol=0)
            with roles.use(None):
                torch.testing.assert_close(run(roles.model), ref[None], atol=0, rtol=0)
            assert roles.active == "verifier"
        assert roles.active == "grounder"
        torch.testing.assert_close(run(roles.model), ref["grounder"], atol=0, rtol=0)
        with pytest.raises(RuntimeError), roles.use("planner"):
            raise RuntimeError("boom")
        torch.testing.assert_close(run(roles.model), ref["grounder"], atol=0, rtol=0)
    with pytest.raises(ModelError, match="not loaded"), roles.use("answerer"):
        pass
    assert roles.active is None


def test_save_in_released_names_and_load(roles: Roles, tmp_path: Path) -> None:
    written = roles.save(tmp_path)
    assert set(written) == {"planner", "grounder", "verifier"}
    cfg = json.loads((tmp_path / "grounder" / "adapter_config.json").read_text())
    assert cfg["target_modules"] == sorted(
        f"model.layers.{i}.self_attn.{p}_proj" for i in range(2) for p in "qkvo"
    )
    assert cfg["r"] == 64 and cfg["lora_alpha"] == 64 and cfg["peft_type"] == "LORA"
    keys = set(load_file(str(tmp_path / "grounder" / "adapter_model.safetensors")))
    assert "base_model.model.model.embed_tokens.weight" in keys
    assert "base_model.model.lm_head.weight" in keys
    assert "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight" in keys
    planner_keys = set(load_file(str(tmp_path / "planner" / "adapter_model.safetensors")))
    assert all("lora_" in k for k in planner_keys)
    loaded = Roles.load(build_model("qwen2_vl"), written)
    for role in ("planner", "grounder", "verifier", None):
        torch.testing.assert_close(logits(loaded, role), logits(roles, role), atol=0, rtol=0)
    with pytest.raises(ModelError, match=r"missing adapter_config\.json"):
        Roles.load(build_model("qwen2_vl"), {"grounder": tmp_path / "nowhere"})


def test_training_flags_follow_the_role() -> None:
    roles = Roles.create(build_model("qwen2_vl"), roles=["planner", "grounder"], trainable=True)

    def trainable() -> set[str]:
        return {n for n, p in roles.model.named_parameters() if p.requires_grad}

    assert trainable() == set()  # Answerer: nothing trains
    with roles.use("grounder"):
        names = trainable()
        assert names and all(".grounder." in n for n in names)
        assert any("embed_tokens.modules_to_save.grounder" in n for n in names)
        assert not any("visual" in n for n in names)
    with roles.use("planner"):
        names = trainable()
        assert names and all(".planner." in n and "lora_" in n for n in names)
