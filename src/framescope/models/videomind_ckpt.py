"""VideoMind checkpoints: the folder layout VideoMind released, read unchanged, and framescope's own.

Released layout (``yeliudev/VideoMind``, transformers 4.45; reconstructed from its
``build_model`` and save code)::

    VideoMind-2B/
      config.json                 model_type "agent_qwen2_vl", role, base_model "qwen2_vl",
                                  base_model_path (the base Qwen2-VL folder), reg_token_id,
                                  seg_s_token_id, seg_e_token_id, + the base model's config
      pytorch_model.safetensors   the timestamp decoder only: 93 tensors, fp16, keys prefixed
                                  "base_model.model." (saved from inside the PeftModel)
      grounder/ verifier/ planner/   peft LoRA folders (adapter_config.json + adapter_model.safetensors)
      tokenizer / processor files (the role tokens are added tokens; ids from the config)

The base model's weights are not in the folder: ``base_model_path`` names it (the release reads
``config.base_model_path``); ``base_model=PATH`` overrides it. Any subset of the role folders may
be present, or be selected. framescope's own layout is the same plus ``framescope.json``, the
resolved configuration (roles, token ids, base path, head shape) written at save time.

The role adapters load through :mod:`framescope.models.adapters` (module names mapped to
transformers 5.x at load time); the head through :mod:`framescope.models.timestamp_head`.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import Any

import torch

from framescope.errors import ModelError
from framescope.fileio import atomic_write_bytes, write_json
from framescope.models.adapters import ROLES, Roles
from framescope.models.timestamp_head import (
    RELEASED_PREFIX,
    STRIDES,
    TimestampHead,
    strip_released_prefix,
)

CONFIG = "config.json"
HEAD_FILE = "pytorch_model.safetensors"
RESOLVED = "framescope.json"
AGENT_MODEL_TYPE = "agent_qwen2_vl"
FAMILIES = ("qwen2_vl", "qwen2_5_vl")
TOKEN_FIELDS = {"reg": "reg_token_id", "seg_start": "seg_s_token_id", "seg_end": "seg_e_token_id"}
TOKEN_TEXT = {"reg": "<|reg|>", "seg_start": "<|seg_start|>", "seg_end": "<|seg_end|>"}
_TOKENIZER_FILES = ("tokenizer_config.json", "tokenizer.json", "vocab.json")


@dataclass(frozen=True)
class TokenIds:
    """VideoMind's control tokens, by id (from the checkpoint config, never hard-coded)."""

    reg: int
    seg_start: int
    seg_end: int


@dataclass(frozen=True)
class VideoMindCheckpoint:
    """A checked checkpoint folder; nothing loaded yet."""

    path: Path
    base_model_path: Path
    family: str
    roles: dict[str, Path]  # role -> adapter folder, the selected ones in ROLES order
    head_file: Path | None
    token_ids: TokenIds
    layout: str  # "released" | "framescope"
    config: dict[str, Any]  # config.json as read
    # framescope.json's "agent": the agent settings the roles were trained for (AgentConfig
    # fields, e.g. role_tokens), used when the caller leaves the agent at its defaults
    agent: dict[str, Any] = dataclass_field(default_factory=dict)

    @property
    def processor_path(self) -> Path:
        """Where the tokenizer lives: the checkpoint (it has the role tokens) or else the base."""
        has = any((self.path / name).is_file() for name in _TOKENIZER_FILES)
        return self.path if has else self.base_model_path


def read_checkpoint(
    path: str | os.PathLike[str],
    base_model: str | os.PathLike[str] | None = None,
    roles: Iterable[str] | None = None,
) -> VideoMindCheckpoint:
    """Check a VideoMind folder (released or framescope layout) and resolve its base model.

    ``roles``: the subset to use (default: every role folder present). Raises
    :class:`ModelError` naming what is missing or wrong.
    """
    root = Path(path)
    if not root.is_dir():
        raise ModelError(f"{root}: VideoMind checkpoint folder not found")
    config = _read_json(root / CONFIG)
    resolved = _read_json(root / RESOLVED) if (root / RESOLVED).is_file() else None
    if config.get("model_type") != AGENT_MODEL_TYPE and resolved is None:
        raise ModelError(
            f"{root / CONFIG}: model_type is {config.get('model_type')!r}, not "
            f"{AGENT_MODEL_TYPE!r}: not a VideoMind checkpoint"
        )
    present = {r: root / r for r in ROLES if (root / r).is_dir()}
    if not present:
        raise ModelError(f"{root}: none of the role folders {', '.join(ROLES)} is present")
    wanted = list(present) if roles is None else list(roles)
    absent = [r for r in wanted if r not in present]
    if absent:
        raise ModelError(
            f"{root}: role folder(s) {', '.join(absent)} not present; present: {', '.join(present)}"
        )
    if not wanted:
        raise ModelError("no roles selected")
    head = root / HEAD_FILE
    if "grounder" in wanted and not head.is_file():
        raise ModelError(f"{root}: the grounder needs the timestamp decoder weights {HEAD_FILE}")
    source = resolved if resolved is not None else config
    base_path = _resolve_base(root, source.get("base_model_path"), base_model)
    family = _base_family(base_path)
    declared = source.get("base_model")
    if declared is not None and declared != family:
        raise ModelError(
            f"{root}: checkpoint was trained on {declared!r} but {base_path} is a {family!r} model"
        )
    return VideoMindCheckpoint(
        path=root,
        base_model_path=base_path,
        family=family,
        roles={r: present[r] for r in ROLES if r in wanted},
        head_file=head if head.is_file() else None,
        token_ids=_token_ids(source, root),
        layout="framescope" if resolved is not None else "released",
        config=config,
        agent=dict((resolved or {}).get("agent") or {}),
    )


def plan_for_roles(roles: Iterable[str]) -> tuple[str, ...]:
    """The VideoMind route the loaded roles allow (the release's evaluation never plans):
    grounder → verifier → answerer, grounder → answerer, or answerer alone."""
    have = set(roles)
    steps = [r for r in ("grounder", "verifier") if r in have]
    if "verifier" in have and "grounder" not in have:
        steps = []  # the verifier only re-ranks the grounder's candidates
    return (*steps, "answerer")


def load_head(ckpt: VideoMindCheckpoint, hidden_act: str = "silu") -> TimestampHead | None:
    """The timestamp decoder (strict load, float32), or ``None`` when the folder has none."""
    if ckpt.head_file is None:
        return None
    # attention heads leave no trace in the weights: framescope's layout records them
    resolved = ckpt.path / RESOLVED
    info = (_read_json(resolved).get("head") or {}) if resolved.is_file() else {}
    return read_head(ckpt.head_file, hidden_act, heads=int(info.get("heads", 8)))


def read_head(file: Path, hidden_act: str = "silu", heads: int = 8) -> TimestampHead:
    """A decoder file in the released layout (prefixed keys, any float dtype) as a float32
    :class:`TimestampHead` in eval mode, its shape read off the weights. Strict: a missing,
    unexpected or mis-shaped tensor is a :class:`ModelError` that names every one."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        state = strip_released_prefix(load_file(str(file)))
    except (OSError, SafetensorError) as e:
        raise ModelError(f"{file}: not a readable safetensors file ({e})") from e
    proj = state.get("vis_proj.1.weight")
    if proj is None or proj.ndim != 2:
        raise ModelError(f"{file}: no timestamp decoder weights (vis_proj.1.weight)")
    dims, hidden = proj.shape
    scale = state.get("coef.scale")
    levels = scale.shape[0] if scale is not None and scale.ndim == 1 else len(STRIDES)
    fused = [int(k.split(".")[1]) for k in state if k.split(".")[0] == "vis_fuse"]
    head = TimestampHead(
        int(hidden),
        dims=int(dims),
        act=hidden_act,
        strides=tuple(2**k for k in range(levels)),
        heads=heads,
        num_layers=1 + max(fused, default=2),
    )
    problems = layout_problems(head.state_dict(), state)
    if problems:
        raise ModelError(f"{file}: not the released decoder layout: {problems}")
    head.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    return head.eval()


def layout_problems(expected: dict[str, torch.Tensor], found: dict[str, torch.Tensor]) -> str:
    """Every missing, unexpected and mis-shaped key of ``found`` against ``expected``, on one
    line ('' when the layouts agree)."""
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    shaped = [
        f"{k} {tuple(found[k].shape)} (expected {tuple(expected[k].shape)})"
        for k in sorted(set(expected) & set(found))
        if found[k].shape != expected[k].shape
    ]
    parts = [
        f"{what} {len(keys)}: {', '.join(keys)}"
        for what, keys in (("missing", missing), ("unexpected", unexpected), ("mis-shaped", shaped))
        if keys
    ]
    return "; ".join(parts)


@dataclass
class VideoMind:
    """A loaded checkpoint: the peft model with its roles, the head, the processor."""

    checkpoint: VideoMindCheckpoint
    processor: Any
    roles: Roles
    head: TimestampHead | None

    @property
    def model(self) -> Any:
        return self.roles.model

    @property
    def plan(self) -> tuple[str, ...]:
        return plan_for_roles(self.roles.names)


def load_videomind(
    path: str | os.PathLike[str],
    base_model: str | os.PathLike[str] | None = None,
    roles: Iterable[str] | None = None,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
    model: Any = None,
) -> VideoMind:
    """Load a VideoMind folder: base model + processor via transformers' Auto classes (or the
    already loaded ``model``), the selected role adapters, and the head in ``dtype``."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    ckpt = read_checkpoint(path, base_model, roles)
    processor = AutoProcessor.from_pretrained(ckpt.processor_path)  # type: ignore[no-untyped-call]
    if model is None:
        model = AutoModelForImageTextToText.from_pretrained(ckpt.base_model_path, dtype=dtype)
        model = model.to(device).eval()
    return attach_videomind(ckpt, processor, model, dtype, device)


def attach_videomind(
    ckpt: VideoMindCheckpoint,
    processor: Any,
    model: Any,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
) -> VideoMind:
    """The checked ``ckpt`` on an already loaded base ``model`` and ``processor`` (the tokenizer
    at ``ckpt.processor_path``): the role adapters wrapped around ``model`` in place, the head
    in ``dtype`` on ``device``."""
    _check_tokens(ckpt, processor.tokenizer)
    rows = model.get_input_embeddings().num_embeddings
    if max(vars(ckpt.token_ids).values()) >= rows:
        raise ModelError(
            f"{ckpt.path}: token ids {ckpt.token_ids} exceed the base model's {rows} embedding rows"
        )
    text = model.config.get_text_config()
    head = load_head(ckpt, hidden_act=getattr(text, "hidden_act", "silu"))
    if head is not None:
        if head.hidden_size != text.hidden_size:
            raise ModelError(
                f"{ckpt.head_file}: decoder reads hidden size {head.hidden_size}, "
                f"the base model has {text.hidden_size}"
            )
        head = head.to(device=device, dtype=dtype)
    return VideoMind(ckpt, processor, Roles.load(model, ckpt.roles), head)


def save_videomind(
    out_dir: str | os.PathLike[str],
    roles: Roles,
    head: TimestampHead | None,
    base_model_path: str,
    token_ids: TokenIds,
    processor: Any = None,
    overwrite: bool = False,
    agent_settings: dict[str, Any] | None = None,
) -> Path:
    """Write framescope's layout: the released files (config.json with the agent fields, head,
    role folders, processor) plus ``framescope.json`` (with ``agent_settings`` as ``agent``: the
    agent settings the roles were trained for, e.g. ``{"role_tokens": [12, 12]}``). Assembled beside ``out_dir`` and renamed
    into place, so a reader never sees half a checkpoint."""
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise ModelError(f"{out}: folder is not empty; overwrite=True replaces it")
    if "grounder" in roles.names and head is None:
        raise ModelError("a checkpoint with a grounder needs its timestamp head")
    base = roles.model.get_base_model()
    family = base.config.model_type
    if family not in FAMILIES:
        raise ModelError(f"VideoMind runs on {', '.join(FAMILIES)}, not {family!r}")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.{uuid.uuid4().hex}.tmp"
    tmp.mkdir()
    try:
        config = base.config.to_dict()
        fields = {
            "model_type": AGENT_MODEL_TYPE,
            "architectures": ["AgentQwen2VLForConditionalGeneration"],
            "role": "grounder" if "grounder" in roles.names else roles.names[0],
            "base_model": family,
            "base_model_path": base_model_path,
            **{TOKEN_FIELDS[k]: v for k, v in vars(token_ids).items()},
        }
        write_json(tmp / CONFIG, {**config, **fields})
        roles.save(tmp)
        head_info = None
        if head is not None:
            save_head(tmp / HEAD_FILE, head)
            head_info = head_config(head)
        if processor is not None:
            processor.save_pretrained(tmp)
        write_json(
            tmp / RESOLVED,
            {
                "format": "framescope-videomind",
                "version": 1,
                "base_model": family,
                "base_model_path": base_model_path,
                "roles": {
                    r: {
                        "r": c.r,
                        "alpha": c.lora_alpha,
                        "dropout": c.lora_dropout,
                        "modules_to_save": sorted(c.modules_to_save or []),
                    }
                    for r, c in roles.model.peft_config.items()
                },
                "head": head_info,
                "agent": agent_settings or {},
                **{TOKEN_FIELDS[k]: v for k, v in vars(token_ids).items()},
            },
        )
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def head_config(head: TimestampHead) -> dict[str, Any]:
    """The head's shape as ``framescope.json`` records it (heads leave no trace in the weights)."""
    return {
        "hidden_size": head.hidden_size,
        "dims": head.dims,
        "act": head.act,
        "strides": list(head.strides),
        "layers": len(head.vis_fuse),
        "heads": head.vis_fuse[0].self_att.heads,
    }


def save_head(path: str | os.PathLike[str], head: TimestampHead) -> Path:
    """Write the head's weights as the release does (safetensors, keys ``base_model.model.*``)."""
    from safetensors.torch import save

    state = {
        RELEASED_PREFIX + k: v.detach().contiguous().cpu() for k, v in head.state_dict().items()
    }
    return atomic_write_bytes(path, save(state, metadata={"format": "pt"}))


def load_head_weights(path: str | os.PathLike[str], head: TimestampHead) -> TimestampHead:
    """Load a saved head's weights (released or framescope file) into ``head`` (strict: a
    missing, unexpected or mis-shaped tensor is a :class:`ModelError` naming each)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        state = strip_released_prefix(load_file(str(path)))
    except (OSError, SafetensorError) as e:
        raise ModelError(f"{path}: not a readable safetensors file ({e})") from e
    problems = layout_problems(head.state_dict(), state)
    if problems:
        raise ModelError(f"{path}: decoder weights do not fit this head: {problems}")
    head.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    return head


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ModelError(f"{path}: missing")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ModelError(f"{path}: not readable JSON ({e})") from e
    if not isinstance(data, dict):
        raise ModelError(f"{path}: expected a JSON object")
    return data


def _resolve_base(root: Path, named: object, override: str | os.PathLike[str] | None) -> Path:
    """The override, else the config's ``base_model_path``: as given (relative to the working
    directory, as the release used it), then relative to the checkpoint and beside it."""
    if override is not None:
        base = Path(override)
        if not (base / CONFIG).is_file():
            raise ModelError(f"{base}: base model folder not found (no {CONFIG})")
        return base
    if not isinstance(named, str) or not named:
        raise ModelError(
            f"{root}: config has no base_model_path; pass base_model=PATH (CLI: --base-model PATH)"
        )
    given = Path(named)
    candidates = (
        [given]
        if given.is_absolute()
        else [given, root / given, root.parent / given, root.parent / given.name]
    )
    for candidate in candidates:
        if (candidate / CONFIG).is_file():
            return candidate
    raise ModelError(
        f"{root}: base model {named!r} not found (looked in "
        f"{', '.join(str(c) for c in dict.fromkeys(candidates))}); pass "
        f"base_model=PATH (CLI: --base-model PATH)"
    )


def _base_family(base: Path) -> str:
    family = _read_json(base / CONFIG).get("model_type")
    if family not in FAMILIES:
        raise ModelError(f"{base}: VideoMind runs on {', '.join(FAMILIES)}, not {family!r}")
    return str(family)


def _token_ids(config: dict[str, Any], root: Path) -> TokenIds:
    values = {}
    for name, field in TOKEN_FIELDS.items():
        value = config.get(field)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ModelError(f"{root}: config field {field} must be a token id, got {value!r}")
        values[name] = value
    return TokenIds(**values)


def _check_tokens(ckpt: VideoMindCheckpoint, tokenizer: Any) -> None:
    """The config's ids must be the tokenizer's ids of the role tokens."""
    for name, text in TOKEN_TEXT.items():
        want, got = getattr(ckpt.token_ids, name), tokenizer.convert_tokens_to_ids(text)
        if got != want:
            raise ModelError(
                f"{ckpt.path}: config says {text} is id {want}, the tokenizer at "
                f"{ckpt.processor_path} says {got}"
            )
