"""What a training checkpoint exports beside its training state, in the layout inference loads:
a VideoMind folder (role adapters + head; a shared adapter under both role names), a peft
adapter, or a transformers folder (with the timestamp head beside it for a grounder warm start).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from torch import Tensor

from framescope.models.timestamp_head import TimestampHead
from framescope.train import grounder_head
from framescope.train.checkpoint import Export, strip_prefix
from framescope.train.config import TrainConfig
from framescope.train.model import Trainable, role_budget


def export_for(
    trainable: Trainable,
    head: TimestampHead | None,
    shared: bool = False,
    agent: dict[str, Any] | None = None,
) -> Export:
    """What a checkpoint exports: VideoMind layout (``agent``: the settings recorded for the
    agent; ``shared``: the one adapter also written as the verifier), peft adapter, or a
    transformers folder (with ``head/`` beside it for a grounder warm start)."""
    backend = trainable.backend

    def export(folder: Path, state: dict[str, Tensor]) -> None:
        if trainable.roles is not None:
            from framescope.models.videomind_ckpt import save_videomind

            save_videomind(
                folder / "videomind",
                trainable.roles,
                head,
                str(trainable.base_path.resolve()),
                grounder_head.token_ids(backend),
                processor=backend.processor,
                agent_settings=agent,
            )
            if shared:  # one adapter playing both roles: the same files under each name
                shutil.copytree(
                    folder / "videomind" / "grounder", folder / "videomind" / "verifier"
                )
        elif trainable.peft:
            trainable.model.save_pretrained(folder / "adapter")  # type: ignore[operator]
            backend.processor.save_pretrained(folder / "adapter")
        else:
            backend.model.save_pretrained(
                folder / "model", state_dict=strip_prefix(state, "model.")
            )
            backend.processor.save_pretrained(folder / "model")
            if head is not None:  # a grounder warm start: its head beside the base
                from framescope.models.videomind_ckpt import HEAD_FILE, save_head

                (folder / "head").mkdir(exist_ok=True)
                save_head(folder / "head" / HEAD_FILE, head)

    return export


def agent_settings(cfg: TrainConfig, trainable: Trainable) -> dict[str, Any]:
    """The agent settings a role checkpoint records: the frame size its clips were trained at,
    for every role and the answerer (``role_tokens``/``answer_tokens``, merged tokens per
    frame), when the recipe set one (``video.min_pixels``/``max_pixels``)."""
    if trainable.roles is None or (cfg.video.min_pixels is None and cfg.video.max_pixels is None):
        return {}
    budget = role_budget(cfg, trainable.backend)
    f2 = budget.factor**2
    tokens = [max(1, budget.min_pixels // f2), max(1, budget.max_pixels // f2)]
    return {"role_tokens": tokens, "answer_tokens": tokens}
