"""The grounder role trains its adapter and the timestamp head jointly (focal + L1 +
contrastive next to the LM loss); its checkpoint loads with ``load_videomind`` and through the
VideoMind backend loader, and the loaded adapter and head give the trained model's outputs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from framescope.data import read_grounder
from framescope.data.collate import VideoSettings, collate, grounder_example
from framescope.models.hf import load_backend
from framescope.models.videomind_ckpt import load_videomind
from framescope.train import grounder_head
from framescope.train.model import role_budget
from framescope.train.runtime import read_metrics

from .conftest import recipe
from .test_sft import check_two_steps


def test_grounder_with_head(world: Path, bases: dict[str, Path], tmp_path: Path) -> None:
    # 16 frames = 8 temporal steps: every pyramid level (strides 1-8) is used
    cfg = recipe(
        "videomind_grounder", world, bases["qwen2_vl"], tmp_path / "run", "video.max_frames=16"
    )
    after = check_two_steps(cfg)
    assert any(n.startswith("head.") for n in after)
    for row in read_metrics(tmp_path / "run"):
        parts = [row[k] for k in ("lm_loss", "focal", "l1", "contrastive")]
        assert all(math.isfinite(p) and p >= 0 for p in parts) and row["focal"] > 0
        assert row["loss"] == sum(parts) or math.isclose(row["loss"], sum(parts))

    folder = tmp_path / "run" / "checkpoint-2" / "videomind"
    resolved = json.loads((folder / "framescope.json").read_text())
    assert resolved["head"]["layers"] == 1 and resolved["head"]["heads"] == 4
    vm = load_videomind(folder)
    assert vm.roles.names == ("grounder",) and vm.plan == ("grounder", "answerer")
    for name, tensor in vm.head.state_dict().items():  # the trained head, exactly
        assert torch.equal(tensor, after[f"head.{name}"])

    # the agent's loader: the same adapter and head give the trained model's logits and moments
    backend = load_backend(folder)
    records = read_grounder(world / "videomind/grounder.jsonl", data_root=world).records
    settings = VideoSettings(fps=1.0, max_frames=16, budget=role_budget(cfg, backend))
    batch = collate(backend, [grounder_example(backend, r, settings) for r in records[:2]])
    reg = backend.videomind.checkpoint.token_ids.reg
    head = backend.videomind.head.eval()
    with backend.videomind.roles.use("grounder"):
        moments = grounder_head.predict(head, backend, batch, reg)
        loaded = backend.model(
            input_ids=batch.input_ids,
            attention_mask=batch.attention_mask,
            position_ids=batch.position_ids,
            pixel_values_videos=torch.cat([v.pixel_values for v in batch.vision]),
            video_grid_thw=torch.tensor([v.grid_thw for v in batch.vision]),
        ).logits
    trained = load_videomind(folder, model=load_backend(bases["qwen2_vl"]).model)
    for name, tensor in trained.head.state_dict().items():
        assert torch.equal(tensor, vm.head.state_dict()[name])
    with torch.no_grad(), trained.roles.use("grounder"):
        want = trained.model(
            input_ids=batch.input_ids,
            attention_mask=batch.attention_mask,
            position_ids=batch.position_ids,
            pixel_values_videos=torch.cat([v.pixel_values for v in batch.vision]),
            video_grid_thw=torch.tensor([v.grid_thw for v in batch.vision]),
        ).logits
    torch.testing.assert_close(loaded, want)
    for cands, duration in zip(moments, batch.durations):
        assert 0 < len(cands.windows) <= 100
        assert all(0 <= w.start <= w.end <= duration for w in cands.windows)
        assert cands.scores == sorted(cands.scores, reverse=True)
