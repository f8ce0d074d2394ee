"""The model a recipe trains: loaded as inference loads it, then made trainable as the config says.

- **Loading.** Always through :func:`framescope.models.hf.load_backend` from a folder, as
  inference does: ``model.path``, or for ``model.tiny`` an offline random-weight checkpoint the
  main process writes once to ``<output_dir>/base_model`` (seeded with ``seed``), so a trained
  checkpoint names a base folder that exists.
- **Frame sizes.** DynFrame: ``video.min_pixels`` / ``video.max_pixels`` are written into the
  processor's video settings, so the backend's :meth:`~framescope.models.hf.HFBackend.pixel_budget`
  — which the retrieval loop and the collators read — and the processor saved with every
  checkpoint carry the training budget: inference sees frames of the size training saw. VideoMind
  roles: the agent sizes role clips itself (36–64 merged tokens per frame by default), and so does
  training (:func:`role_budget`; set the agent's ``role_tokens`` to match other bounds).
- **DynFrame's tokens.** ``<span>`` ``</span>`` ``<fps>`` ``</fps>`` are added to a base that lacks
  them (a stock Qwen-VL) before anything else, the way the release's SFT does
  (``--add_tokens_file``, LLaMA-Factory's ``resize_embedding_layer``): :func:`add_request_tokens`.
  Saved with every export (tokenizer + resized model), so inference and RL find them.
- **What trains.** ``finetune: full`` trains every parameter except those under a ``model.freeze``
  prefix (for the ``grounder`` recipe: a warm start of the base with the head, no adapter); ``finetune: lora`` puts peft LoRA adapters on ``lora.target_modules`` (DynFrame), or,
  for the VideoMind role recipes, creates the role's named adapter with
  :meth:`framescope.models.adapters.Roles.create` on the base model (Chain-of-LoRA: every role
  from the base, as released).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from framescope.data.collate import Batch
from framescope.errors import ConfigError
from framescope.families import FAMILIES
from framescope.fileio import write_json
from framescope.models.adapters import EMBEDDING_MODULES, SAVES_EMBEDDINGS, LoraSpec, Roles
from framescope.models.engine import Padded
from framescope.models.hf import HFBackend, load_backend
from framescope.retrieval.loop import REQUEST_TOKENS
from framescope.train.config import TrainConfig
from framescope.train.runtime import Run
from framescope.video.sampling import PixelBudget

ROLE_RECIPES = ("grounder", "verifier", "planner")
ATTENTION = ["q_proj", "k_proj", "v_proj", "o_proj"]
TINY_MARK = "framescope_tiny.json"


@dataclass
class Trainable:
    """A loaded backend and what of it trains: ``model`` is the module the forward pass runs (the
    transformers model, or its peft wrapper); ``roles`` is set for VideoMind role recipes."""

    backend: HFBackend
    model: nn.Module
    base_path: Path
    roles: Roles | None = None
    role: str | None = None
    peft: bool = False


def base_path(cfg: TrainConfig, run: Run) -> Path:
    """The base checkpoint folder: ``model.path``, or the tiny preset written once by the main
    process under the output folder (rebuilt when family, preset or seed changed)."""
    m = cfg.model
    if m.path is not None:
        return Path(m.path)
    if m.tiny is None:
        raise ConfigError("set model.path (a local checkpoint folder) or model.tiny")
    folder = run.out / "base_model"
    want = {"family": m.family, "preset": m.tiny, "seed": cfg.seed, "numbers": m.numbers}
    if run.is_main:
        mark = folder / TINY_MARK
        if not mark.is_file() or json.loads(mark.read_text()) != want:
            from framescope.models.tiny import save_tiny_model

            save_tiny_model(
                m.family, folder, preset=m.tiny, seed=cfg.seed, overwrite=True, numbers=m.numbers
            )
            write_json(mark, want)
    run.barrier()
    return folder


def set_pixel_budget(backend: HFBackend, min_pixels: int | None, max_pixels: int | None) -> None:
    """Make ``backend.pixel_budget()`` bound frames to ``[min_pixels, max_pixels]`` per frame (each
    bound optional) by writing the processor's settings the budget is read from."""
    if min_pixels is None and max_pixels is None:
        return
    vp = backend.video_processor
    if min_pixels is not None:
        vp.size["shortest_edge"] = int(min_pixels)
    if max_pixels is not None:
        if FAMILIES[backend.family].text_timestamps:  # per frame: max_video_tokens tokens
            vp.max_video_tokens = max(1, int(max_pixels) // backend.factor**2)
        else:
            vp.size["longest_edge"] = int(max_pixels)
    budget = backend.pixel_budget()
    if budget.min_pixels > budget.max_pixels:
        raise ConfigError(
            f"video.min_pixels {budget.min_pixels} exceeds video.max_pixels {budget.max_pixels}"
        )


def load_trainable(cfg: TrainConfig, run: Run) -> Trainable:
    """Load the base, apply the pixel budget and make the configured parts trainable."""
    path = base_path(cfg, run)
    backend = load_backend(path, dtype=cfg.model.dtype, device=str(run.device))
    if backend.family != cfg.model.family:
        raise ConfigError(
            f"{path} is a {backend.family} checkpoint, model.family says {cfg.model.family}"
        )
    model: Any = backend.model
    if cfg.recipe in ROLE_RECIPES:
        if cfg.model.finetune == "full":
            return _warm_grounder(cfg, backend, path)
        return _role(cfg, backend, path)
    set_pixel_budget(backend, cfg.video.min_pixels, cfg.video.max_pixels)
    if cfg.method == "dynframe":
        add_request_tokens(backend, torch.Generator().manual_seed(cfg.seed))
    if cfg.model.finetune == "lora":
        from peft import LoraConfig, get_peft_model

        lora = cfg.model.lora
        assert lora is not None  # the config checks it
        config = LoraConfig(
            r=lora.r,
            lora_alpha=lora.alpha,
            lora_dropout=lora.dropout,
            target_modules=list(lora.target_modules),
            modules_to_save=list(lora.modules_to_save) or None,
            task_type="CAUSAL_LM",
        )
        return Trainable(backend, get_peft_model(model, config), path, peft=True)
    _freeze(model, cfg.model.freeze)
    return Trainable(backend, model, path)


def add_request_tokens(backend: HFBackend, generator: torch.Generator) -> list[str]:
    """DynFrame's four tokens as new vocabulary entries, added as the release adds them; returns
    the ones that were missing.

    The release: ``tokenizer.add_tokens`` (plain added tokens, not special: they stay in decoded
    text), then, only when the tokenizer outgrew the embedding rows, ``resize_token_embeddings``
    padded to a multiple of 64 with every new row — input embeddings and LM head, padding rows
    included — set to the mean of the old rows plus N(0, 1/hidden) noise. A real Qwen-VL pads its
    vocabulary (Qwen3-VL-4B: 151,936 rows for 151,669 tokens), so there the new tokens take ids
    151669–151672 (the release's runtime watches ``</fps>`` = 151672) on unused rows as the
    checkpoint has them, and nothing is resized — also as released. Deviation: the
    noise comes from ``generator`` (the run's seed), not the global RNG.
    """
    model = backend.model
    added = backend.add_tokens(REQUEST_TOKENS)
    rows = model.get_input_embeddings().weight.shape[0]
    if len(backend.tokenizer) > rows:
        model.resize_token_embeddings(
            len(backend.tokenizer), pad_to_multiple_of=64, mean_resizing=False
        )
        with torch.no_grad():
            for weight in (
                model.get_input_embeddings().weight,
                model.get_output_embeddings().weight,
            ):
                weight[rows:] = noisy_mean_rows(weight[:rows], len(weight) - rows, generator)
    return added


def noisy_mean_rows(old: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` new embedding rows: the mean of ``old`` (V, H) plus N(0, 1/H) noise (LLaMA-Factory's
    ``_noisy_mean_initialization``, which the release uses)."""
    noise = torch.randn(n, old.shape[1], generator=generator) / old.shape[1] ** 0.5
    return old.float().mean(0, keepdim=True) + noise.to(old.device)


def _freeze(model: nn.Module, prefixes: list[str]) -> None:
    names = [n for n, _ in model.named_parameters()]
    for prefix in prefixes:
        if not any(n == prefix or n.startswith(prefix + ".") for n in names):
            raise ConfigError(f"model.freeze: no parameter of the model is under {prefix!r}")
    for name, p in model.named_parameters():
        p.requires_grad_(not any(name == x or name.startswith(x + ".") for x in prefixes))


def _warm_grounder(cfg: TrainConfig, backend: HFBackend, path: Path) -> Trainable:
    """A grounder warm start: the whole base (less ``model.freeze``) trains with the head — a
    base that has learnt to see, for role adapters trained from it later (a model trained from
    scratch has no pretrained base to put roles on). No role adapter is created."""
    if cfg.recipe != "grounder" or cfg.method != "videomind":
        raise ConfigError(
            f"recipe {cfg.recipe}: finetune full is the grounder warm start only "
            "(the other roles are LoRA adapters: finetune lora)"
        )
    _freeze(backend.model, cfg.model.freeze)
    return Trainable(backend, backend.model, path)


def _role(cfg: TrainConfig, backend: HFBackend, path: Path) -> Trainable:
    """The role's fresh adapter on the base (VideoMind: LoRA on q/k/v/o; grounder and verifier
    also train their own copies of the embeddings and the LM head)."""
    role, lora = cfg.recipe, cfg.model.lora
    if cfg.method != "videomind" or lora is None:
        raise ConfigError(f"recipe {role} trains a VideoMind role: method videomind, finetune lora")
    if sorted(lora.target_modules) != sorted(ATTENTION):
        raise ConfigError(
            f"VideoMind roles adapt {ATTENTION}, not model.lora.target_modules {lora.target_modules}"
        )
    saves = EMBEDDING_MODULES if SAVES_EMBEDDINGS[role] else []
    if sorted(lora.modules_to_save) != sorted(saves):
        raise ConfigError(
            f"the {role} role saves {saves or 'no modules'}, not model.lora.modules_to_save {lora.modules_to_save}"
        )
    roles = Roles.create(backend.model, [role], LoraSpec(lora.r, lora.alpha, lora.dropout))
    seg = [backend.encode_text(t) for t in ("<|seg_start|>", "<|seg_end|>")]
    if any(len(ids) != 1 for ids in seg):
        raise ConfigError(f"{path}: the tokenizer has no single <|seg_start|>/<|seg_end|> tokens")
    # the verifier's markers sit inside its clip's visual tokens, as the VideoMind loader sets them
    backend.rope = dataclasses.replace(backend.rope, markers=frozenset(ids[0] for ids in seg))
    return Trainable(backend, roles.model, path, roles=roles, role=role, peft=True)


def role_budget(cfg: TrainConfig, backend: HFBackend) -> PixelBudget:
    """Frame sizes of a role's clips: ``video.min_pixels``/``max_pixels`` when set, else the
    agent's default (36–64 merged tokens per frame, the release's)."""
    from framescope.agent.agent import AgentConfig
    from framescope.agent.common import role_budget as agent_budget

    lo, hi = cfg.video.min_pixels, cfg.video.max_pixels
    default = agent_budget(backend, *AgentConfig().role_tokens)
    budget = PixelBudget(
        lo if lo is not None else default.min_pixels,
        hi if hi is not None else default.max_pixels,
        default.factor,
    )
    if budget.min_pixels > budget.max_pixels:
        raise ConfigError(
            f"video.min_pixels {budget.min_pixels} exceeds video.max_pixels {budget.max_pixels}"
        )
    return budget


def trainable_parameters(module: nn.Module) -> list[tuple[str, nn.Parameter]]:
    """``(name, parameter)`` of every parameter that requires grad, in module order."""
    return [(n, p) for n, p in module.named_parameters() if p.requires_grad]


def forward_inputs(
    seqs: Batch | Padded, device: torch.device, dtype: torch.dtype
) -> dict[str, Any]:
    """The model's keyword arguments for padded sequences: ids, attention mask, 3-D positions and,
    when there are clips, their pixels (in ``dtype``) and grids."""
    inputs: dict[str, Any] = {
        "input_ids": seqs.input_ids.to(device),
        "attention_mask": seqs.attention_mask.to(device),
        "position_ids": seqs.position_ids.to(device),
    }
    if seqs.vision:
        inputs["pixel_values_videos"] = torch.cat([v.pixel_values for v in seqs.vision]).to(
            device, dtype
        )
        inputs["video_grid_thw"] = torch.tensor([v.grid_thw for v in seqs.vision], device=device)
    return inputs
