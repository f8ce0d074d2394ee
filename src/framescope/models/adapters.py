"""VideoMind's roles as named peft LoRA adapters on one base model ("Chain-of-LoRA").

One base Qwen-VL model; ``planner``, ``grounder`` and ``verifier`` are LoRA adapters on the
language model's ``q/k/v/o`` projections (r 64, alpha 64, dropout 0.1; the vision tower is
untouched); grounder and verifier also keep their own trained copies of ``embed_tokens`` and
``lm_head`` (peft ``modules_to_save``: they learned the new tokens). The Answerer is the base
model with every adapter off. :class:`Roles` holds them and switches with one context manager::

    with roles.use("verifier"):
        logits = roles.model(**inputs).logits
    with roles.use(None):  # Answerer
        ...

Why a context manager: switching is global module state, and peft versions differ in how they
leave it. peft 0.11–0.14 (PR #1615) *disabled* every ``modules_to_save`` wrapper lacking the new
adapter when switching to it, and a later ``set_adapter`` never re-enabled them (fixed in
PR #2430, peft 0.15): after the planner ran, the grounder and verifier silently used the base
``embed_tokens``/``lm_head``. VideoMind worked around it by calling ``disable_adapter_layers``,
``enable_adapter_layers`` and ``set_adapter`` before every role. Since PR #2936 ``set_adapter``
no longer re-enables layers that ``disable_adapter_layers`` switched off, so an Answerer done
by hand breaks the next role the opposite way. :meth:`Roles.use` sets the complete state of
every adapter module on every switch (enabled + the role, or disabled) and restores the
previous role on exit, so neither history matters. For frozen (inference) roles that state is
two flags per module, written directly into the cached adapter modules (``PeftModel.set_adapter``
walks the whole model and every adapter's parameters to move ``requires_grad``, which is what
a switch costs); trainable roles go through peft's setters. Not thread-safe: one role at a
time per model (peft's per-row ``adapter_names=[…]`` is the way to mix roles in one batch).

Adapters are saved and loaded in the layout VideoMind released (transformers 4.45 module names,
``model.layers.N…``); on transformers 5.x the language model lives under
``model.language_model``, so names are mapped both ways at load/save time — the files are never
rewritten in place.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from framescope.errors import ModelError
from framescope.fileio import atomic_write_bytes, write_json

ROLES = ("planner", "grounder", "verifier")
SAVES_EMBEDDINGS = {"planner": False, "grounder": True, "verifier": True}
EMBEDDING_MODULES = ["embed_tokens", "lm_head"]
ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
_ATTENTION = re.compile(r"(?:^|\.)layers\.\d+\.self_attn\.[qkvo]_proj$")
# transformers 4.x → 5.x: the text model moved from ``model.*`` to ``model.language_model.*``.
_LEGACY_TEXT = re.compile(r"^model\.(layers|embed_tokens|norm|rotary_emb)(?=\.|$)")
_CURRENT_TEXT = re.compile(r"^model\.language_model\.(layers|embed_tokens|norm|rotary_emb)(?=\.|$)")
_PEFT_PREFIX = "base_model.model."


@dataclass(frozen=True)
class LoraSpec:
    """The release's role adapter settings."""

    r: int = 64
    alpha: int = 64
    dropout: float = 0.1


def attention_modules(model: nn.Module) -> list[str]:
    """Full names of the language model's ``q/k/v/o`` projections (never the vision tower's)."""
    names = [
        name
        for name, _ in _base(model).named_modules()
        if _ATTENTION.search(name) and "visual" not in name.split(".")
    ]
    if not names:
        raise ModelError(f"{type(model).__name__}: no language-model attention projections found")
    return names


def role_config(role: str, model: nn.Module, spec: LoraSpec = LoraSpec()) -> Any:
    """The ``LoraConfig`` of ``role`` for ``model`` (grounder/verifier also save embeddings)."""
    from peft import LoraConfig

    _check_role(role)
    return LoraConfig(
        r=spec.r,
        lora_alpha=spec.alpha,
        lora_dropout=spec.dropout,
        target_modules=attention_modules(model),
        modules_to_save=list(EMBEDDING_MODULES) if SAVES_EMBEDDINGS[role] else None,
        task_type="CAUSAL_LM",
    )


def to_current_name(name: str, model: nn.Module) -> str:
    """A module/parameter path in ``model``'s layout: 4.x ``model.layers…`` → 5.x
    ``model.language_model.layers…`` when the model has the latter; other names unchanged."""
    if not hasattr(_base(model), "model") or not hasattr(_base(model).model, "language_model"):
        return name
    return _LEGACY_TEXT.sub(r"model.language_model.\1", name)


def to_released_name(name: str) -> str:
    """The transformers 4.x path the released checkpoints use (inverse of :func:`to_current_name`)."""
    return _CURRENT_TEXT.sub(r"model.\1", name)


class Roles:
    """Named role adapters on one peft model, switched by :meth:`use`."""

    def __init__(self, model: Any, trainable: bool = False) -> None:
        """``model``: a peft ``PeftModel`` whose adapters are named by role."""
        self.model = model
        self.trainable = trainable
        self._active: str | None = None
        self._cache: tuple[tuple[str, ...], list[Any], list[Any]] = ((), [], [])
        if not trainable:
            model.requires_grad_(False)
        self._apply(None)

    @classmethod
    def create(
        cls,
        base: nn.Module,
        roles: Iterable[str] = ROLES,
        spec: LoraSpec = LoraSpec(),
        trainable: bool = True,
    ) -> Roles:
        """Fresh adapters (peft's init: LoRA B = 0, embedding copies = the base's) for training."""
        roles = list(roles)
        if not roles:
            raise ModelError("no roles to create")
        model = _wrap(base, roles[0], role_config(roles[0], base, spec))
        for role in roles[1:]:
            _add(model, role, role_config(role, base, spec))
        return cls(model, trainable=trainable)

    @classmethod
    def load(cls, base: nn.Module, folders: dict[str, Path], trainable: bool = False) -> Roles:
        """Adapters from peft folders (``role -> folder``), released or current module names."""
        if not folders:
            raise ModelError("no role adapters to load")
        for role in folders:
            _check_role(role)
        read = {role: read_adapter(folder, base) for role, folder in folders.items()}
        model: Any = None  # every folder is checked before the base model is touched
        for role, (config, weights) in read.items():
            folder = folders[role]
            if model is None:
                model = _wrap(base, role, config)
            else:
                _add(model, role, config)
            _load_weights(model, role, weights, folder)
        return cls(model, trainable=trainable)

    @property
    def names(self) -> tuple[str, ...]:
        """Loaded roles, in load order."""
        return tuple(self.model.peft_config)

    @property
    def active(self) -> str | None:
        """The role in use; ``None`` = Answerer (adapters off)."""
        return self._active

    @contextmanager
    def use(self, role: str | None) -> Iterator[Any]:
        """Run the model as ``role`` (``None``: the base model, i.e. the Answerer) inside the
        block; the previous role is restored on exit, also on error. Yields the model."""
        if role is not None and role not in self.model.peft_config:
            raise ModelError(f"role {role!r} is not loaded; loaded: {', '.join(self.names)}")
        previous = self._active
        self._apply(role)
        try:
            yield self.model
        finally:
            self._apply(previous)

    def _apply(self, role: str | None) -> None:
        """Put every adapter module in the state ``role`` needs, whatever state it is in now
        (see the module docstring), then record ``role`` on the peft model."""
        layers, wrappers = self._switchable()
        if self.trainable:
            self._apply_training(role, layers, wrappers)
        else:
            # Frozen adapters: a role is two flags per module. peft's own setters also walk
            # every adapter's parameters to move requires_grad, the whole cost of a switch;
            # nothing here trains, so only the flags the forward passes read are set. They are
            # plain instance attributes, so they go straight into each module's __dict__:
            # nn.Module.__setattr__ (checking for parameters, buffers and submodules) was ~90 %
            # of a switch. The tests check these states against peft's setters and every
            # role's outputs.
            off = role is None
            for layer in layers:
                flags = vars(layer)
                flags["_disable_adapters"] = off
                if not off:
                    flags["_active_adapter"] = [role]
            for wrapper in wrappers:
                flags = vars(wrapper)
                flags["_disable_adapters"] = off
                if not off:  # a role that saved no copy here (planner) runs the original
                    flags["_active_adapter"] = role if role in wrapper.modules_to_save else []
        if role is not None:
            self.model.active_adapter = role
            self.model.base_model.active_adapter = role
        self._active = role

    @staticmethod
    def _apply_training(role: str | None, layers: list[Any], wrappers: list[Any]) -> None:
        """The same state through peft's setters, which also make exactly ``role``'s adapter
        (LoRA weights and embedding copies) require grad."""
        if role is None:
            for module in (*layers, *wrappers):
                module.enable_adapters(False)  # also freezes every adapter
            return
        for layer in layers:
            layer.enable_adapters(True)
            layer.set_adapter(role)
        for wrapper in wrappers:
            wrapper.enable_adapters(True)
            wrapper.set_adapter([role] if role in wrapper.modules_to_save else [])

    def _switchable(self) -> tuple[list[Any], list[Any]]:
        """The peft LoRA layers and ``modules_to_save`` wrappers, found once per adapter set:
        switching then touches only them instead of walking the whole model (~2.5k modules on
        a 2B model) as ``PeftModel.set_adapter`` does, several times."""
        from peft.tuners.tuners_utils import BaseTunerLayer
        from peft.utils.other import ModulesToSaveWrapper

        key = tuple(self.model.peft_config)
        if self._cache[0] != key:
            modules = list(self.model.modules())
            self._cache = (
                key,
                [m for m in modules if isinstance(m, BaseTunerLayer)],
                [m for m in modules if isinstance(m, ModulesToSaveWrapper)],
            )
        return self._cache[1], self._cache[2]

    def save(self, out_dir: str | Path, roles: Iterable[str] | None = None) -> dict[str, Path]:
        """Write ``out_dir/<role>/{adapter_config.json, adapter_model.safetensors}`` in the
        released layout (transformers 4.x module names). Returns ``role -> folder``."""
        from peft.utils import get_peft_model_state_dict
        from safetensors.torch import save

        written = {}
        for role in roles if roles is not None else self.names:
            if role not in self.model.peft_config:
                raise ModelError(f"role {role!r} is not loaded; loaded: {', '.join(self.names)}")
            state = get_peft_model_state_dict(
                self.model, adapter_name=role, save_embedding_layers=False
            )
            state = {
                _PEFT_PREFIX + to_released_name(k.removeprefix(_PEFT_PREFIX)): v.detach()
                .contiguous()
                .cpu()
                for k, v in state.items()
            }
            config = {  # peft keeps some fields as sets; JSON wants lists
                k: sorted(v) if isinstance(v, set) else v
                for k, v in self.model.peft_config[role].to_dict().items()
            }
            config["target_modules"] = sorted(
                to_released_name(t) for t in self.model.peft_config[role].target_modules
            )
            config["peft_type"], config["task_type"] = "LORA", "CAUSAL_LM"
            folder = Path(out_dir) / role
            atomic_write_bytes(folder / ADAPTER_WEIGHTS, save(state, metadata={"format": "pt"}))
            write_json(folder / ADAPTER_CONFIG, config)
            written[role] = folder
        return written


def read_adapter(folder: str | Path, base: nn.Module) -> tuple[Any, dict[str, torch.Tensor]]:
    """A role folder's ``LoraConfig`` (target names in ``base``'s layout) and its weights (keys in
    ``base``'s layout, without adapter names). Typed errors for anything missing or foreign."""
    from peft import LoraConfig
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(folder)
    config_path, weights_path = folder / ADAPTER_CONFIG, folder / ADAPTER_WEIGHTS
    for path in (config_path, weights_path):
        if not path.is_file():
            raise ModelError(
                f"{folder}: missing {path.name} (a peft LoRA adapter folder has both "
                f"{ADAPTER_CONFIG} and {ADAPTER_WEIGHTS})"
            )
    try:
        raw = json.loads(config_path.read_text())
    except (OSError, ValueError) as e:
        raise ModelError(f"{config_path}: not readable JSON ({e})") from e
    if not isinstance(raw, dict) or raw.get("peft_type") != "LORA":
        raise ModelError(
            f"{config_path}: not a LoRA adapter config (peft_type "
            f"{raw.get('peft_type') if isinstance(raw, dict) else None!r})"
        )
    targets = raw.get("target_modules")
    if isinstance(targets, list):
        raw["target_modules"] = [to_current_name(t, base) for t in targets]
        present = {name for name, _ in _base(base).named_modules()}
        # peft matches a target by full name or by suffix; it also shortens a list of >= 20 full
        # names to their minimal suffixes (e.g. "q_proj") before saving, as Roles.save then does
        parts = [name.split(".") for name in present]
        suffixes = {".".join(p[i:]) for p in parts for i in range(1, len(p))}
        missing = [t for t in raw["target_modules"] if t not in present and t not in suffixes]
        if missing:
            raise ModelError(
                f"{config_path}: the base model has no module(s) {missing[:3]}"
                f"{' …' if len(missing) > 3 else ''} that the adapter targets"
            )
    raw.pop("base_model_name_or_path", None)  # where it was trained; the base is ours
    known = set(LoraConfig.__dataclass_fields__)
    try:
        config = LoraConfig(**{k: v for k, v in raw.items() if k in known})
    except (TypeError, ValueError) as e:
        raise ModelError(f"{config_path}: invalid LoRA config ({e})") from e
    try:
        weights = load_file(str(weights_path))
    except (OSError, SafetensorError) as e:
        raise ModelError(f"{weights_path}: not a readable safetensors file ({e})") from e
    names = {k: to_current_name(k.removeprefix(_PEFT_PREFIX), base) for k in weights}
    _check_fits(weights, names, base, weights_path)
    return config, {_PEFT_PREFIX + names[k]: v for k, v in weights.items()}


def _check_fits(
    weights: dict[str, torch.Tensor], names: dict[str, str], base: nn.Module, path: Path
) -> None:
    """Every tensor fits the base model (checked before anything is added to it): LoRA A/B
    against the target's in/out features, saved module copies against the base's parameter.
    ``names``: file key -> parameter path in ``base``."""
    model = _base(base)
    for key, tensor in weights.items():
        name = names[key]
        try:
            if ".lora_A." in name or ".lora_B." in name:
                target = model.get_submodule(name.split(".lora_")[0])
                dim, want = (
                    (1, target.in_features) if ".lora_A." in name else (0, target.out_features)
                )
                fits = tensor.ndim == 2 and tensor.shape[dim] == want
                need = f"{'in' if dim else 'out'} features {want}"
            else:
                param = model.get_parameter(name)
                fits, need = tensor.shape == param.shape, str(tuple(param.shape))
        except AttributeError:
            raise ModelError(f"{path}: {key} names no module of the base model") from None
        if not fits:
            raise ModelError(
                f"{path}: {key} is {tuple(tensor.shape)}, the base model needs {need} "
                f"(adapter trained for another base model?)"
            )


def _base(model: nn.Module) -> nn.Module:
    """The transformers model under a peft wrapper (or the model itself)."""
    get = getattr(model, "get_base_model", None)
    return get() if callable(get) else model


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ModelError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")


@contextmanager
def _tied_copies_ok() -> Iterator[None]:
    # On a tied base (Qwen2-VL-2B) peft warns that embed_tokens/lm_head copies are not tied.
    # That is intended: the release trained them as separate copies.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*tie_word_embeddings.*")
        warnings.filterwarnings("ignore", message=".*ensure_weight_tying.*")
        # peft asks transformers 5.x a deprecated question while wrapping; nothing to act on
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
        yield


def _wrap(base: nn.Module, role: str, config: Any) -> Any:
    from peft import get_peft_model

    _check_role(role)
    with _tied_copies_ok():
        model = get_peft_model(base, config, adapter_name=role)
    return model.train(base.training)  # new LoRA dropouts follow the base's train/eval mode


def _add(model: Any, role: str, config: Any) -> None:
    _check_role(role)
    if role in model.peft_config:
        raise ModelError(f"role {role!r} is already loaded")
    with _tied_copies_ok():
        model.add_adapter(role, config)
    model.train(model.get_base_model().training)


def _load_weights(model: Any, role: str, weights: dict[str, torch.Tensor], folder: Path) -> None:
    """Check names and shapes against the freshly added adapter, then copy the weights in."""
    from peft.utils import get_peft_model_state_dict, set_peft_model_state_dict

    expected = get_peft_model_state_dict(model, adapter_name=role, save_embedding_layers=False)
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    if missing or unexpected:
        raise ModelError(
            f"{folder}: adapter weights do not match its config "
            f"(missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    wrong = [
        (k, tuple(weights[k].shape), tuple(v.shape))
        for k, v in expected.items()
        if weights[k].shape != v.shape
    ]
    if wrong:
        k, got, want = wrong[0]
        raise ModelError(
            f"{folder}: {len(wrong)} adapter tensor(s) do not fit the base model, "
            f"e.g. {k} is {got}, the base needs {want} (adapter trained for another "
            f"base model?)"
        )
    result: Any = set_peft_model_state_dict(model, weights, adapter_name=role)
    if result.unexpected_keys:
        raise ModelError(f"{folder}: peft did not place {result.unexpected_keys[:3]}")
