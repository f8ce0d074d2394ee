"""VideoMind checkpoints: a tiny checkpoint in the released layout loads unchanged and reproduces
its weights (roles = the LoRA weights applied by hand, head strict); subsets of roles; clear
errors; framescope's own layout round-trips; the whole grounding path runs end to end."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file, save_file

from framescope.errors import ModelError
from framescope.models.head_features import PreNormCapture, pool_video_features
from framescope.models.timestamp_head import decode
from framescope.models.tiny import build_model
from framescope.models.videomind_ckpt import (
    TokenIds,
    load_videomind,
    plan_for_roles,
    read_checkpoint,
    read_head,
    save_videomind,
)

from .conftest import make_clip, video_kwargs
from .released_videomind import (
    RELEASED_PREFIX,
    ReleasedFixture,
    apply_role_by_hand,
    build_released_checkpoint,
    released_decoder_shapes,
    write_released_decoder,
)


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> ReleasedFixture:
    return build_released_checkpoint(tmp_path_factory.mktemp("videomind"))


@pytest.fixture(scope="module")
def vm(released: ReleasedFixture) -> Any:
    return load_videomind(released.ckpt)


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def copy_ckpt(src: Path, dst: Path, drop: tuple[str, ...] = ()) -> Path:
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(*drop))
    return dst


IDS = torch.tensor([[5, 17, 250, 300, 286, 42, 43, 256, 1, 99]])  # includes added-token rows


def test_released_layout_reads(released: ReleasedFixture) -> None:
    ckpt = read_checkpoint(released.ckpt)
    assert ckpt.layout == "released" and ckpt.family == "qwen2_vl"
    assert list(ckpt.roles) == ["planner", "grounder", "verifier"]
    assert ckpt.base_model_path == released.base
    assert ckpt.token_ids == TokenIds(
        released.token_ids["reg_token_id"],
        released.token_ids["seg_s_token_id"],
        released.token_ids["seg_e_token_id"],
    )
    assert ckpt.head_file is not None
    cfg = json.loads((released.ckpt / "grounder" / "adapter_config.json").read_text())
    assert cfg["target_modules"][0].startswith("model.layers.")  # 4.45 names, as released
    assert set(load_file(str(released.ckpt / "grounder" / "adapter_model.safetensors"))) >= {
        "base_model.model.model.embed_tokens.weight",
        "base_model.model.lm_head.weight",
    }


def test_plain_peft_cannot_load_it(released: ReleasedFixture) -> None:
    """Why the mapping exists: on transformers 5.x the names do not match any module."""
    from peft import NoMatchingPeftModuleError, PeftModel

    with pytest.raises(NoMatchingPeftModuleError):
        PeftModel.from_pretrained(build_model("qwen2_vl"), released.ckpt / "grounder")


@pytest.mark.parametrize("role", ["planner", "grounder", "verifier", None])
def test_roles_equal_the_weights_applied_by_hand(
    vm: Any, released: ReleasedFixture, role: str | None
) -> None:
    want_model = build_model("qwen2_vl")
    if role is not None:
        apply_role_by_hand(want_model, released.ckpt / role)
    with torch.no_grad():
        want = want_model(input_ids=IDS).logits
        with vm.roles.use(role):
            got = vm.model(input_ids=IDS).logits
        base = build_model("qwen2_vl")(input_ids=IDS).logits
    torch.testing.assert_close(got, want, atol=2e-5, rtol=2e-5)
    assert (role is None) == torch.allclose(got, base, atol=1e-4)  # each role changes the model


def test_embedding_copies_stay_untied(vm: Any) -> None:
    emb = vm.model.get_base_model().model.language_model.embed_tokens
    head = vm.model.get_base_model().lm_head
    for role in ("grounder", "verifier"):
        assert emb.modules_to_save[role].weight is not head.modules_to_save[role].weight
        assert not torch.equal(emb.modules_to_save[role].weight, head.modules_to_save[role].weight)


def test_head_loads_strict(vm: Any, released: ReleasedFixture) -> None:
    state = vm.head.state_dict()
    assert set(state) == set(released.head_state) and len(state) == 93
    for k, v in released.head_state.items():
        torch.testing.assert_close(state[k], v.float())


@pytest.mark.parametrize("hidden", [1536, 3584])  # Qwen2-VL-2B, Qwen2-VL-7B
def test_released_decoder_file_loads_strict(hidden: int, tmp_path: Path) -> None:
    """A decoder file written from the release's key list (all 93 tensors, fp16, prefixed) loads
    strictly with every value in place; a wrong, missing or mis-shaped tensor is refused in one
    line that names each."""
    shapes = released_decoder_shapes(hidden)
    assert len(shapes) == 93
    file = tmp_path / "pytorch_model.safetensors"
    state = write_released_decoder(file, shapes, torch.Generator().manual_seed(0))
    head = read_head(file)
    assert (head.hidden_size, head.dims, head.strides, len(head.vis_fuse)) == (
        hidden,
        256,
        (1, 2, 4, 8),
        3,
    )
    got = head.state_dict()
    assert {k: tuple(v.shape) for k, v in got.items()} == shapes
    for k, v in state.items():
        assert torch.equal(got[k], v.float()), k

    bad = dict(state)
    bad["vis_fuse.0.att.q.weight"] = bad.pop("vis_fuse.0.self_att.q.weight")  # an invented name
    del bad["coef.scale"]
    bad["vis_fuse.1.ffn.mapping.0.weight"] = torch.zeros(512, 256, dtype=torch.float16)
    save_file({RELEASED_PREFIX + k: v for k, v in bad.items()}, str(file))
    with pytest.raises(ModelError) as err:
        read_head(file)
    message = str(err.value)
    assert "\n" not in message and "not the released decoder layout" in message
    assert "missing 2: coef.scale, vis_fuse.0.self_att.q.weight" in message
    assert "unexpected 1: vis_fuse.0.att.q.weight" in message
    assert (
        "mis-shaped 1: vis_fuse.1.ffn.mapping.0.weight (512, 256) (expected (1024, 256))" in message
    )


def test_files_are_not_modified(released: ReleasedFixture) -> None:
    before = digest(released.ckpt)
    load_videomind(released.ckpt, roles=["grounder"])
    assert digest(released.ckpt) == before


def test_subsets_of_roles(released: ReleasedFixture, tmp_path: Path) -> None:
    mine = build_model("qwen2_vl")  # a base the caller loaded (e.g. a backend's model)
    only = load_videomind(released.ckpt, roles=["grounder"], model=mine)
    assert only.roles.names == ("grounder",) and only.plan == ("grounder", "answerer")
    assert only.model.get_base_model() is mine
    two = copy_ckpt(released.ckpt, tmp_path / "gv", drop=("planner",))
    both = load_videomind(two)
    assert both.roles.names == ("grounder", "verifier")
    assert both.plan == ("grounder", "verifier", "answerer")
    planner = copy_ckpt(
        released.ckpt, tmp_path / "p", drop=("grounder", "verifier", "pytorch_model.safetensors")
    )
    alone = load_videomind(planner)
    assert alone.head is None and alone.plan == ("answerer",)
    assert plan_for_roles(["verifier"]) == ("answerer",)
    with pytest.raises(ModelError, match="not present"):
        read_checkpoint(two, roles=["planner"])


def test_base_model_path_and_override(released: ReleasedFixture, tmp_path: Path) -> None:
    moved = copy_ckpt(released.ckpt, tmp_path / "ckpt")
    cfg = json.loads((moved / "config.json").read_text())
    cfg["base_model_path"] = "model_zoo/Qwen2-VL-2B-Instruct"  # the release's relative path
    (moved / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelError, match="--base-model"):
        read_checkpoint(moved)
    assert read_checkpoint(moved, base_model=released.base).base_model_path == released.base
    beside = copy_ckpt(released.base, tmp_path / "Qwen2-VL-2B-Instruct")  # found beside it
    assert read_checkpoint(moved).base_model_path == beside
    with pytest.raises(ModelError, match="base model folder not found"):
        read_checkpoint(moved, base_model=tmp_path / "nowhere")


def test_clear_errors(released: ReleasedFixture, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not a VideoMind checkpoint"):
        read_checkpoint(released.base)
    with pytest.raises(ModelError, match="folder not found"):
        read_checkpoint(tmp_path / "missing")
    no_head = copy_ckpt(released.ckpt, tmp_path / "nohead", drop=("pytorch_model.safetensors",))
    with pytest.raises(ModelError, match="timestamp decoder"):
        read_checkpoint(no_head)

    wrong = copy_ckpt(released.ckpt, tmp_path / "wrong")
    weights = load_file(str(wrong / "verifier" / "adapter_model.safetensors"))
    weights["base_model.model.model.embed_tokens.weight"] = torch.zeros(151936, 64)
    save_file(weights, str(wrong / "verifier" / "adapter_model.safetensors"))
    with pytest.raises(ModelError, match=r"embed_tokens.weight is \(151936, 64\), the base"):
        load_videomind(wrong, roles=["verifier"])

    deeper = copy_ckpt(released.ckpt, tmp_path / "deeper")
    cfg_path = deeper / "planner" / "adapter_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["target_modules"].append("model.layers.27.self_attn.q_proj")  # a 28-layer base's
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(ModelError, match="no module"):
        load_videomind(deeper, roles=["planner"])

    ids = copy_ckpt(released.ckpt, tmp_path / "ids")
    cfg = json.loads((ids / "config.json").read_text())
    cfg["reg_token_id"] = 151657  # the 2B's id, not this tokenizer's
    (ids / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelError, match="tokenizer"):
        load_videomind(ids, roles=["planner"])

    bad_head = copy_ckpt(released.ckpt, tmp_path / "badhead")
    state = load_file(str(bad_head / "pytorch_model.safetensors"))
    del state["base_model.model.coef.scale"]
    save_file(state, str(bad_head / "pytorch_model.safetensors"))
    with pytest.raises(ModelError, match="decoder"):
        load_videomind(bad_head, roles=["grounder"])


def test_framescope_layout_round_trip(vm: Any, released: ReleasedFixture, tmp_path: Path) -> None:
    out = save_videomind(
        tmp_path / "ours",
        vm.roles,
        vm.head,
        str(released.base),
        vm.checkpoint.token_ids,
        processor=vm.processor,
    )
    resolved = json.loads((out / "framescope.json").read_text())
    assert resolved["roles"]["grounder"]["r"] == 64 and resolved["head"]["hidden_size"] == 64
    again = load_videomind(out)
    assert again.checkpoint.layout == "framescope"
    with torch.no_grad():
        for role in ("planner", "grounder", "verifier", None):
            with vm.roles.use(role):
                want = vm.model(input_ids=IDS).logits
            with again.roles.use(role):
                got = again.model(input_ids=IDS).logits
            torch.testing.assert_close(got, want)
    for k, v in vm.head.state_dict().items():
        torch.testing.assert_close(again.head.state_dict()[k], v)
    with pytest.raises(ModelError, match="not empty"):
        save_videomind(out, vm.roles, vm.head, str(released.base), vm.checkpoint.token_ids)


def test_grounding_end_to_end(vm: Any) -> None:
    """Prompt with a video → grounder forward (pre-norm states captured) → pooled features and
    the query state → head → ranked moments in seconds; every role also generates."""
    clip = make_clip(8, fps=1.0)
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "video"},
                {"type": "text", "text": "When does the square appear?"},
            ],
        }
    ]
    text = vm.processor.apply_chat_template(messages, add_generation_prompt=True)
    inputs = vm.processor(text=[text], return_tensors="pt", **video_kwargs([clip]))
    with torch.no_grad(), vm.roles.use("grounder"), PreNormCapture(vm.model) as cap:
        vm.model(**inputs)
    states = cap.states[-1]  # (1, L, 64)
    video, mask = pool_video_features(
        states, inputs["input_ids"], inputs["video_grid_thw"], vm.model.config.video_token_id
    )
    assert video.shape == (1, 4, 64)  # 8 frames -> 4 temporal patches
    with torch.no_grad():
        out = vm.head(video, states[:, -1], mask)
    (cands,) = decode(out, [8.0])
    assert 0 < len(cands.windows) <= 100
    assert all(0 <= w.start <= w.end <= 8.0 for w in cands.windows)
    assert cands.scores == sorted(cands.scores, reverse=True)
    for role in ("planner", "grounder", "verifier", None):
        with torch.no_grad(), vm.roles.use(role):
            ids = vm.model.generate(**inputs, max_new_tokens=3, do_sample=False)
        assert ids.shape[1] == inputs["input_ids"].shape[1] + 3
