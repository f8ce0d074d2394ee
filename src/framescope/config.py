"""Typed settings: dataclasses with a help string per field, read from YAML, dotted overrides and
command-line flags generated from the fields.

Every setting of framescope is declared once, as a field of a config dataclass
(:mod:`framescope.settings` for inference, ``framescope.eval.config`` and
``framescope.train.config`` for runs): its default, its help text and its allowed values
(:func:`option`). This module turns those declarations into everything else:

- :func:`build` checks plain data (a YAML mapping, nested for nested sections) against a config
  class: unknown keys (naming the dotted key and the closest known one), wrong types and
  impossible values fail with a one-line :class:`~framescope.errors.ConfigError`;
- :func:`to_data` is the inverse (what :func:`save` writes; loading it gives the same config);
- :func:`apply_override` reads ``dotted.key=value`` strings whose value is YAML
  (``optim.lr=1e-5``, ``model.lora=null``, ``data.files=[a.jsonl]``);
- :func:`add_arguments` generates ``--flag`` options for every leaf field of a config (nested
  sections flattened: ``--max-frames`` sets ``infer.budgets.max_frames``), with the field's help
  and default; :func:`given_arguments` reads back the ones the user gave, as dotted keys.

Fields whose metadata has ``runtime=True`` (a shared frame cache, say) are objects, not settings:
they are never read, written or turned into flags.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import difflib
import math
import os
import types
import typing
from collections.abc import Iterator, Sequence
from dataclasses import field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from framescope.errors import ConfigError
from framescope.fileio import atomic_write_text

C = TypeVar("C")


def option(default: Any, help: str, choices: Sequence[Any] | None = None) -> Any:
    """A field with an immutable default, its help string and allowed values."""
    return field(default=default, metadata={"help": help, "choices": _choices(choices)})


def section(factory: Any, help: str) -> Any:
    """A nested config (or any mutable default) built by ``factory``, with its help string."""
    return field(default_factory=factory, metadata={"help": help, "choices": None})


def required(help: str, choices: Sequence[Any] | None = None) -> Any:
    """A field without a default: configs that lack it fail to build."""
    return field(metadata={"help": help, "choices": _choices(choices)})


def runtime(default: Any = None) -> Any:
    """A field holding a runtime object (not a setting): not compared, read, saved or a flag."""
    return field(default=default, compare=False, repr=False, metadata={"runtime": True})


def _choices(choices: Sequence[Any] | None) -> tuple[Any, ...] | None:
    return tuple(choices) if choices else None


def require(ok: bool, message: str) -> None:
    """Raise :class:`ConfigError` with ``message`` unless ``ok``."""
    if not ok:
        raise ConfigError(message)


# ---------------------------------------------------------------------------- fields


def settings_fields(cls: type) -> Iterator[tuple[dataclasses.Field[Any], Any]]:
    """The setting fields of config class ``cls`` and their resolved types (runtime ones left
    out)."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if not f.metadata.get("runtime"):
            yield f, hints[f.name]


def nested_class(tp: Any) -> type | None:
    """The config dataclass ``tp`` names (``X`` or ``X | None``), else ``None``."""
    args = [a for a in typing.get_args(tp) if a is not type(None)] if _is_optional(tp) else [tp]
    if len(args) == 1 and isinstance(args[0], type) and dataclasses.is_dataclass(args[0]):
        return args[0]
    return None


def _is_optional(tp: Any) -> bool:
    origin = typing.get_origin(tp)
    return origin in (typing.Union, types.UnionType) and type(None) in typing.get_args(tp)


def _inner(tp: Any) -> Any:
    """``X`` for ``X | None``, else ``tp``."""
    if _is_optional(tp):
        (tp,) = [a for a in typing.get_args(tp) if a is not type(None)]
    return tp


def field_help(cls: type, prefix: str = "") -> dict[str, str]:
    """Every field's dotted name and help string (nested sections included)."""
    out: dict[str, str] = {}
    for f, tp in settings_fields(cls):
        out[prefix + f.name] = f.metadata.get("help", "")
        nested = nested_class(tp)
        if nested is not None:
            out.update(field_help(nested, f"{prefix}{f.name}."))
    return out


# ---------------------------------------------------------------------------- data <-> config


def build(cls: type[C], data: dict[str, Any], prefix: str = "") -> C:
    """A config dataclass ``cls`` from ``data`` (nested dicts for nested dataclasses); unknown
    keys and bad values raise :class:`ConfigError` naming the key (``prefix`` + name)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'a config'} must be a mapping, got {data!r}")
    fields = {f.name: (f, tp) for f, tp in settings_fields(cls)}
    for key in data:
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            hint = f" (did you mean {prefix}{close[0]}?)" if close else ""
            raise ConfigError(f"unknown key {prefix}{key}{hint}")
    for name, (f, _) in fields.items():
        missing = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if missing and name not in data:
            raise ConfigError(f"missing key {prefix}{name} ({f.metadata.get('help', '')})")
    kwargs = {
        name: _convert(data[name], fields[name][1], prefix + name, fields[name][0].metadata)
        for name in data
    }
    return cls(**kwargs)


def _convert(value: Any, tp: Any, key: str, meta: typing.Mapping[str, Any]) -> Any:
    if _is_optional(tp):
        if value is None:
            return None
        tp = _inner(tp)
    nested = nested_class(tp)
    if nested is not None:
        return build(nested, value, key + ".")
    origin = typing.get_origin(tp)
    if origin in (list, tuple):
        args = typing.get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key} must be a list, got {value!r}")
        if origin is tuple and args[-1] is not Ellipsis and len(value) != len(args):
            raise ConfigError(f"{key} must have {len(args)} items, got {value!r}")
        items = args[:1] * len(value) if origin is list or args[-1] is Ellipsis else args
        converted = [
            _convert(v, t, f"{key}[{i}]", meta) for i, (v, t) in enumerate(zip(value, items))
        ]
        return tuple(converted) if origin is tuple else converted
    return _scalar(value, tp, key, meta.get("choices"))


def _scalar(value: Any, tp: Any, key: str, choices: tuple[Any, ...] | None) -> Any:
    if tp is float and isinstance(value, str):
        value = _yaml_number(value)  # YAML 1.1 reads 1e-5 (no dot) as a string
    ok = {
        bool: isinstance(value, bool),
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, (int, float)) and not isinstance(value, bool),
        str: isinstance(value, str),
    }[tp]
    if not ok:
        raise ConfigError(f"{key} must be {tp.__name__}, got {value!r}")
    if tp is float and not math.isfinite(value):
        raise ConfigError(f"{key} must be a finite number, got {value!r}")
    if choices and value not in choices:
        raise ConfigError(f"{key} must be one of {', '.join(map(str, choices))}, got {value!r}")
    return float(value) if tp is float else value


def _yaml_number(text: str) -> Any:
    """``text`` as a float when it is written like one (``1e-5``), else unchanged."""
    try:
        return float(text) if text.strip().lower() not in ("nan", "inf", "-inf", "+inf") else text
    except ValueError:
        return text


def to_data(config: Any) -> dict[str, Any]:
    """``config`` as plain data (tuples as lists, runtime fields left out): what :func:`build`
    reads back equal."""

    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return to_data(value)
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        return value

    return {f.name: plain(getattr(config, f.name)) for f, _ in settings_fields(type(config))}


# ---------------------------------------------------------------------------- YAML, overrides


def read_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A YAML mapping from ``path``; a missing file, bad YAML (``file:line``) or a non-mapping
    fails with :class:`ConfigError`."""
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{p}: no such config file") from None
    except yaml.MarkedYAMLError as e:
        line = e.problem_mark.line + 1 if e.problem_mark else "?"
        raise ConfigError(f"{p}:{line}: invalid YAML: {e.problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: a config must be a mapping, got {type(data).__name__}")
    return data


def set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    """``data[a][b][c] = value`` for ``key`` ``"a.b.c"`` (sections made as needed)."""
    *parents, last = key.split(".")
    node = data
    for part in parents:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"{key}: {part} is not a section")
        node = child
    node[last] = value


def apply_override(data: dict[str, Any], override: str) -> None:
    """Apply one ``dotted.key=value`` override (the value read as YAML) to ``data``."""
    key, sep, raw = override.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {override!r} is not key=value")
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        raise ConfigError(f"override {override!r}: the value is not YAML") from None
    try:
        set_dotted(data, key.strip(), value)
    except ConfigError as e:
        raise ConfigError(f"override {override!r}: {e}") from None


def from_data(cls: type[C], data: dict[str, Any], overrides: Sequence[str] = ()) -> C:
    """A ``cls`` config from plain data plus ``key=value`` overrides (``data`` is not changed)."""
    if not isinstance(data, dict):
        raise ConfigError(f"a config must be a mapping, got {type(data).__name__}")
    data = copy.deepcopy(data)
    for override in overrides:
        apply_override(data, override)
    return build(cls, data)


def load(cls: type[C], path: str | os.PathLike[str], overrides: Sequence[str] = ()) -> C:
    """Read a YAML file as a ``cls`` config, apply overrides, check everything; errors name the
    file."""
    data = read_yaml(path)
    try:
        return from_data(cls, data, overrides)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None


def save(config: Any, path: str | os.PathLike[str], header: str) -> Path:
    """Write ``config`` as YAML (atomically) under a ``# header`` line; :func:`load` reads it back
    equal."""
    body = yaml.safe_dump(to_data(config), sort_keys=False, allow_unicode=True)
    return atomic_write_text(path, f"# {header}\n{body}")


# ---------------------------------------------------------------------------- command line


def leaves(
    cls: type, prefix: str = "", sections: bool = True
) -> Iterator[tuple[str, dataclasses.Field[Any], Any]]:
    """Every leaf setting of ``cls``: its dotted key, field and type (sections flattened, or
    left out when ``sections`` is false)."""
    for f, tp in settings_fields(cls):
        nested = nested_class(tp)
        if nested is None or _is_optional(tp):
            yield prefix + f.name, f, tp
        elif sections:
            yield from leaves(nested, f"{prefix}{f.name}.")


def add_arguments(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    cls: type,
    prefix: str = "",
    skip: Sequence[str] = (),
    sections: bool = True,
) -> list[str]:
    """Add a ``--flag`` per leaf setting of ``cls`` (the leaf's name with ``-``; dest = its
    dotted key under ``prefix``), except the dotted keys in ``skip`` (and nested sections when
    ``sections`` is false); every flag defaults to ``None`` (= not given). Returns the dotted
    keys added. Sequences take several values (``--route grounder verifier``) or one
    comma-separated value (``--route grounder,verifier``)."""
    keys = []
    defaults = _defaults(cls)
    for key, f, tp in leaves(cls, sections=sections):
        if key in skip:
            continue
        default = _dotted_value(defaults, key) if defaults is not None else _field_default(f)
        flag = "--" + key.rsplit(".", 1)[-1].replace("_", "-")
        text = f.metadata.get("help", "")
        kwargs = _argument(tp, f.metadata.get("choices"))
        if kwargs.get("action") is None and "(default" not in text:
            text += f" (default: {_shown(default)})"
        parser.add_argument(flag, dest=prefix + key, default=None, help=text, **kwargs)
        keys.append(prefix + key)
    return keys


def _defaults(cls: type) -> Any:
    """``cls`` built from its defaults, or ``None`` when it has required fields."""
    try:
        return cls()
    except (TypeError, ConfigError):
        return None


def _field_default(f: dataclasses.Field[Any]) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return None


def _dotted_value(config: Any, key: str) -> Any:
    for part in key.split("."):
        config = getattr(config, part)
    return config


def _shown(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return " ".join(map(str, value)) or "none"
    return "none" if value is None or value == "" else str(value)


def _argument(tp: Any, choices: tuple[Any, ...] | None) -> dict[str, Any]:
    tp = _inner(tp)
    if tp is bool:
        return {"action": argparse.BooleanOptionalAction}
    origin = typing.get_origin(tp)
    if origin in (list, tuple):
        args = typing.get_args(tp)
        fixed = origin is tuple and args[-1] is not Ellipsis
        shown = "{" + ",".join(map(str, choices)) + "}" if choices else {int: "N"}.get(args[0], "X")
        # items are checked when the config is built (comma-separated values split first)
        return {"type": _parser(args[0]), "nargs": len(args) if fixed else "+", "metavar": shown}
    if choices:
        return {"type": _parser(tp), "choices": choices}
    return {"type": _parser(tp), "metavar": {int: "N", float: "NUM"}.get(tp, "TEXT")}


def _parser(tp: Any) -> Any:
    if tp is float:
        return number
    return tp


def number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def given_arguments(args: argparse.Namespace, keys: Sequence[str]) -> dict[str, Any]:
    """The flags among ``keys`` (from :func:`add_arguments`) that were given, as nested data."""
    data: dict[str, Any] = {}
    for key in keys:
        value = getattr(args, key, None)
        if isinstance(value, list):
            value = [
                v
                for item in value
                for v in (item.split(",") if isinstance(item, str) else [item])
                if v != ""
            ]
        if value is not None:
            set_dotted(data, key, value)
    return data


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested data as one level of dotted keys (``{"a": {"b": 1}}`` → ``{"a.b": 1}``)."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``top``'s values on top, section by section (neither is changed)."""
    out = copy.deepcopy(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out
