"""Training configs: every shipped recipe parses, the released numbers are where they belong,
unknown keys and bad values fail in one line, overrides apply, the resolved config round-trips."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from framescope.errors import ConfigError
from framescope.train.config import (
    TrainConfig,
    config_from_dict,
    field_help,
    load_config,
)

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
SHIPPED = sorted(CONFIGS.glob("*.yaml"))
MINIMAL = {
    "recipe": "planner",
    "method": "videomind",
    "data": {"format": "planner", "files": ["p.jsonl"]},
}


def test_there_are_recipes_for_each_method_and_the_synthetic_world():
    names = {p.stem for p in SHIPPED}
    for base in (
        "dynframe_sft",
        "dynframe_grpo",
        "dynframe_grpo_trajectory",
        "videomind_grounder",
        "videomind_verifier",
        "videomind_planner",
    ):
        assert base in names and f"synth_{base}" in names


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_config_parses(path):
    cfg = load_config(path)
    assert isinstance(cfg, TrainConfig)
    assert all(not Path(f).is_absolute() for f in cfg.data.files)  # relative to the data root
    assert cfg.data.root is None and Path(cfg.output_dir).parts[0] == "runs"
    if path.stem.startswith("synth_"):
        assert cfg.model.tiny in ("tiny", "small") and cfg.model.path is None
        assert cfg.optim.max_steps is not None and cfg.optim.max_steps <= 20
    else:
        assert cfg.model.tiny is None and cfg.model.path is None  # set per run, never in a file


def test_released_dynframe_rl_numbers_and_the_ablation_differs_in_the_advantage_only():
    sd = load_config(CONFIGS / "dynframe_grpo.yaml")
    base = load_config(CONFIGS / "dynframe_grpo_trajectory.yaml")
    released = load_config(CONFIGS / "dynframe_grpo_released.yaml")
    g = released.grpo
    assert (g.group_size, g.beta, g.epsilon_low, g.sampling.temperature) == (8, 0.02, 0.3, 0.7)
    assert (g.sampling.top_p, g.sampling.top_k, g.sampling.repetition_penalty) == (0.8, 100, 1.05)
    assert (g.rewards.format, g.rewards.accuracy, g.rewards.fps, g.rewards.span_iou) == (
        0.1,
        0.6,
        0.3,
        0.0,
    )
    assert (g.advantage, g.aggregation, g.normalization) == (
        "trajectory",
        "normalize_then_sum",
        "sequence",
    )
    assert (sd.grpo.advantage, base.grpo.advantage) == ("segment", "trajectory")

    def without(cfg: TrainConfig, *keys: str) -> dict:
        d = cfg.to_dict()
        del d["output_dir"]
        for key in keys:
            *path, last = key.split(".")
            node = d
            for part in path:
                node = node[part]
            del node[last]
        return d

    # the ablation pairs differ in the advantage alone; the released file in the span weight alone
    for a, b in (
        (sd, base),
        (
            load_config(CONFIGS / "synth_dynframe_grpo.yaml"),
            load_config(CONFIGS / "synth_dynframe_grpo_trajectory.yaml"),
        ),
    ):
        assert without(a, "grpo.advantage") == without(b, "grpo.advantage")
    assert without(base, "grpo.rewards.span_iou") == without(released, "grpo.rewards.span_iou")


def test_released_videomind_role_numbers():
    for role, lr, saved in (
        ("grounder", 1e-4, ["embed_tokens", "lm_head"]),
        ("verifier", 5e-5, ["embed_tokens", "lm_head"]),
        ("planner", 2e-5, []),
    ):
        cfg = load_config(CONFIGS / f"videomind_{role}.yaml")
        lora = cfg.model.lora
        assert (lora.r, lora.alpha, lora.dropout, lora.modules_to_save) == (64, 64, 0.1, saved)
        assert lora.target_modules == ["q_proj", "k_proj", "v_proj", "o_proj"]
        o = cfg.optim
        assert (o.lr, o.scheduler, o.warmup_ratio, o.global_batch_size) == (lr, "cosine", 0.03, 32)
        assert cfg.recipe == role and cfg.data.format == role and cfg.model.family == "qwen2_vl"


def test_every_field_has_help():
    helps = field_help()
    assert "grpo.rewards.span_iou" in helps and "model.lora.r" in helps
    assert all(text.strip() for text in helps.values())


@pytest.mark.parametrize(
    ("data", "overrides", "message"),
    [
        (
            {**MINIMAL, "optim": {"warmup_ration": 0}},
            (),
            "unknown key optim.warmup_ration (did you mean optim.warmup_ratio?)",
        ),
        (MINIMAL, ("optim.lr=fast",), "optim.lr must be float, got 'fast'"),
        (MINIMAL, ("optim.lr=.inf",), "optim.lr must be a finite number"),
        (MINIMAL, ("optim.max_steps=2.5",), "optim.max_steps must be int"),
        (
            MINIMAL,
            ("model.family=gpt",),
            "model.family must be one of qwen2_vl, qwen2_5_vl, qwen3_vl",
        ),
        (MINIMAL, ("data.skip_bad_rows=1",), "data.skip_bad_rows must be bool"),
        (MINIMAL, ("grpo.beta=0.1",), "grpo must be set exactly for recipe grpo"),
        (MINIMAL, ("data.format=dm_rl",), "recipe planner trains on data.format planner"),
        (MINIMAL, ("model.finetune=lora",), "model.lora must be set exactly"),
        (MINIMAL, ("optim.lr",), "is not key=value"),
        (MINIMAL, ("data.files.x=1",), "files is not a section"),
        ({"recipe": "planner", "method": "videomind"}, (), "missing key data"),
        ({**MINIMAL, "data": {"format": "planner"}}, (), "missing key data.files"),
    ],
)
def test_bad_configs_fail_in_one_line(data, overrides, message):
    with pytest.raises(ConfigError) as info:
        config_from_dict(data, overrides)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_overrides_and_yaml_quirks():
    cfg = config_from_dict(
        MINIMAL,
        [
            "optim.lr=1e-5",
            "data.files=[a.jsonl, b.jsonl]",
            "model.finetune=lora",
            "model.lora={r: 8}",
        ],
    )
    assert cfg.optim.lr == 1e-5 and cfg.data.files == ["a.jsonl", "b.jsonl"]
    assert (cfg.model.lora.r, cfg.model.lora.alpha) == (8, 64)
    assert config_from_dict({**MINIMAL, "optim": {"lr": "3e-4"}}).optim.lr == 3e-4  # YAML 1.1


def test_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("recipe: sft\nmethod: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:\d+: invalid YAML"):
        load_config(bad)
    typo = tmp_path / "typo.yaml"
    typo.write_text(yaml.safe_dump({**MINIMAL, "sede": 1}))
    with pytest.raises(ConfigError, match=r"typo.yaml: unknown key sede \(did you mean seed\?\)"):
        load_config(typo)
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "none.yaml")


def test_resolved_config_round_trips(tmp_path):
    cfg = load_config(CONFIGS / "synth_dynframe_grpo.yaml", ["grpo.group_size=2", "seed=3"])
    out = cfg.save_resolved(tmp_path / "ckpt" / "config.yaml")
    assert out.read_text().startswith("# framescope resolved training config")
    again = load_config(out)
    assert again == cfg and again.grpo.group_size == 2 and again.seed == 3
