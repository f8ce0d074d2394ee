"""Training checkpoints: written atomically, resumed bit-identically on CPU.

``<output_dir>/checkpoint-<step>/``::

    config.yaml              the resolved config of the run (overrides applied)
    trainable.safetensors    every trainable tensor of the trained module, by name (exact)
    trainer_state.pt         step, optimiser state, scheduler state, world size
    rng/rank<r>.pt           each process's python / numpy / torch RNG states
    model/ | adapter/ | videomind/   the export others load: a transformers checkpoint folder
                             (full fine-tuning), a peft adapter (DynFrame LoRA), or VideoMind's
                             layout (role adapter + head, read by ``load_videomind``)

The folder is assembled as ``.checkpoint-<step>.tmp`` and renamed into place once complete, so a
reader (or a resume after a crash) never sees half a checkpoint. Resuming rebuilds the run exactly
as it started (same base, same adapters and head, same seeds), then loads the trainable tensors,
optimiser, scheduler and every rank's RNG states; the data position is the step (see
:class:`~framescope.train.runtime.StepPlan`).

With FSDP or DeepSpeed (``configs/accelerate/``) the exports and ``trainable.safetensors`` are
gathered on the main process, but optimiser and RNG states are not saved and resuming is refused:
sharded optimiser state is out of scope here (untested without GPUs).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from framescope.errors import ConfigError
from framescope.train.config import TrainConfig
from framescope.train.runtime import Run, rng_state, set_rng_state

STATE = "trainer_state.pt"
TENSORS = "trainable.safetensors"
CONFIG = "config.yaml"
_NAME = re.compile(r"^checkpoint-(\d+)$")

# export(folder, full state dict of the trained module) -> writes the loadable export
Export = Callable[[Path, dict[str, torch.Tensor]], None]


def checkpoint_dir(out: Path, step: int) -> Path:
    return out / f"checkpoint-{step}"


def find_checkpoint(path: str | os.PathLike[str]) -> Path:
    """``path`` itself when it is a checkpoint, else its latest ``checkpoint-<step>``."""
    p = Path(path)
    if (p / STATE).is_file() or (p / TENSORS).is_file():
        return p
    if not p.is_dir():
        raise ConfigError(f"{p}: no such checkpoint or output folder")
    found = [(int(m.group(1)), c) for c in p.iterdir() if (m := _NAME.match(c.name)) and c.is_dir()]
    if not found:
        raise ConfigError(f"{p}: no checkpoint-<step> folder to resume from")
    return max(found)[1]


def save_checkpoint(
    run: Run,
    cfg: TrainConfig,
    module: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    step: int,
    export: Export,
) -> Path:
    """Write ``checkpoint-<step>`` (every process takes part; see the module docstring)."""
    from safetensors.torch import save_file

    final = checkpoint_dir(run.out, step)
    tmp = run.out / f".{final.name}.tmp"
    if run.is_main:
        shutil.rmtree(tmp, ignore_errors=True)
        (tmp / "rng").mkdir(parents=True)
    run.barrier()
    state = run.accelerator.get_state_dict(module)  # gathers sharded weights (collective)
    if not run.sharded:
        torch.save(rng_state(), tmp / "rng" / f"rank{run.rank}.pt")
    run.barrier()
    if run.is_main:
        unwrapped = run.accelerator.unwrap_model(module)
        names = [n for n, p in unwrapped.named_parameters() if p.requires_grad]
        tensors = {n: state[n].detach().contiguous().cpu() for n in names}
        save_file(tensors, str(tmp / TENSORS))
        if not run.sharded:
            torch.save(
                {
                    "step": step,
                    "world": run.world,
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                },
                tmp / STATE,
            )
        cfg.save_resolved(tmp / CONFIG)
        export(tmp, state)
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    run.barrier()
    return final


def load_checkpoint(
    path: Path,
    run: Run,
    module: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
) -> int:
    """Restore a checkpoint into a freshly built run (before ``prepare``); returns its step."""
    from safetensors.torch import load_file

    if run.sharded:
        raise ConfigError(
            "resuming is supported for single-process and DDP runs, not FSDP/DeepSpeed"
        )
    if not (path / STATE).is_file():
        raise ConfigError(f"{path}: no {STATE} (not a resumable checkpoint)")
    state = torch.load(path / STATE, map_location="cpu", weights_only=False)
    if state["world"] != run.world:
        raise ConfigError(
            f"{path} was written by {state['world']} process(es); resume with the same number "
            f"(this run has {run.world})"
        )
    tensors = load_file(str(path / TENSORS))
    params = dict(module.named_parameters())
    trainable = {n for n, p in params.items() if p.requires_grad}
    if set(tensors) != trainable:
        missing, extra = sorted(trainable - set(tensors)), sorted(set(tensors) - trainable)
        raise ConfigError(
            f"{path}: its tensors do not match this run's trainable parameters "
            f"(missing {missing[:3]}, unexpected {extra[:3]}): a different config?"
        )
    with torch.no_grad():
        for name, tensor in tensors.items():
            params[name].copy_(tensor)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    # the learning rate from this run's schedule (the same unless the steps were changed)
    scheduler.last_epoch -= 1
    scheduler.step()
    set_rng_state(torch.load(path / "rng" / f"rank{run.rank}.pt", weights_only=False))
    return int(state["step"])


def strip_prefix(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The entries under ``prefix`` with it removed."""
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
