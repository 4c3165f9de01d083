"""One config system: YAML files in ``configs/`` loaded into typed dataclasses.

Every stage has a dataclass of settings with sane defaults. ``load_config`` reads a YAML file (or a
dict) into it, checking that every key exists and converting lists to tuples where the field is a
tuple; ``config_to_dict`` turns it back into plain data so the resolved config can be saved beside
every output (as YAML and as JSON in HDF5 attributes).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import types
import typing
from pathlib import Path
from typing import Any, Sequence, TypeVar

import yaml

T = TypeVar("T")


class ConfigError(ValueError):
    """A config file or dict that does not fit its dataclass (unknown key, wrong type, bad value).

    The message is one line, starting with the file (and key) it is about.
    """

    def __init__(self, message: object) -> None:
        super().__init__(_one_line(message))


def _one_line(message: object, limit: int = 500) -> str:
    text = re.sub(r"\s+", " ", str(message)).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _convert(value: Any, annotation: Any, where: str) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if dataclasses.is_dataclass(annotation) and isinstance(annotation, type):
        if isinstance(value, annotation):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping for {annotation.__name__}, got {value!r}")
        return _from_dict(annotation, value, where)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(f"{where}: {value!r} fits none of {annotation}")
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if args and len(args) != len(value):
            raise ConfigError(f"{where}: expected {len(args)} values, got {len(value)}")
        return tuple(_convert(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args or [Any] * len(value))))
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return [_convert(v, args[0] if args else Any, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{where}: {value!r} is not one of {args}")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        try:
            number = float(value)
        except OverflowError:
            raise ConfigError(f"{where}: {value!r} is too large for a number") from None
        if not math.isfinite(number):
            raise ConfigError(f"{where}: expected a finite number, got {value!r}")
        return number
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true/false, got {value!r}")
        return value
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    return value


PRESET_KEY = "preset"


def _from_dict(cls: type[T], data: dict, where: str) -> T:
    """``cls`` from ``data``. A dataclass with a ``config_preset(name)`` classmethod also takes
    ``preset: NAME`` beside its fields: the named object with the fields given changed."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    presets = getattr(cls, "config_preset", None)
    base = None
    if presets is not None and PRESET_KEY in data and PRESET_KEY not in names:
        data = dict(data)
        try:
            base = presets(data.pop(PRESET_KEY))
        except ValueError as exc:
            raise ConfigError(f"{where}.{PRESET_KEY}: {exc}") from exc
    unknown = sorted(set(data) - names)
    if unknown:
        known = sorted(names | ({PRESET_KEY} if presets is not None else set()))
        raise ConfigError(f"{where}: unknown key(s) {unknown} for {cls.__name__}; known: {known}")
    kwargs = {k: _convert(v, hints[k], f"{where}.{k}") for k, v in data.items()}
    try:
        return cls(**kwargs) if base is None else dataclasses.replace(base, **kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def _read_yaml(path: Path) -> Any:
    """The YAML document of ``path``; ``ConfigError`` naming the file for anything that is not one.

    An empty (or comments-only) file is an error too: it is far more often a file that was cut
    short than a wish for every default.
    """
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); is it a config file?") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        # libyaml's loader when present: the same documents, ~10x faster than the pure-Python one.
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None
    except (ValueError, RecursionError, OverflowError) as exc:  # e.g. recursive aliases, absurd numbers
        raise ConfigError(f"{path}: not a usable YAML document ({type(exc).__name__}: {exc})") from None
    if data is None:
        raise ConfigError(f"{path}: empty config file (no settings in it)")
    return data


def config_from_dict(cls: type[T], data: dict | None, where: str = "config") -> T:
    """Build dataclass ``cls`` from a (possibly partial) dict; missing keys keep their defaults."""
    return _from_dict(cls, data or {}, where)


def load_config(path: str | Path, cls: type[T], section: str | None = None) -> T:
    """Read YAML file ``path`` (optionally one top-level ``section`` of it) into dataclass ``cls``.

    Unknown keys are an error naming the file, so a typo never silently falls back to a default.
    """
    path = Path(path)
    return _config_from_data(path, _read_yaml(path), cls, section)


def _config_from_data(path: Path, data: Any, cls: type[T], section: str | None) -> T:
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got a {type(data).__name__}")
    if section is not None:
        data = data.get(section, {}) or {}
        if not isinstance(data, dict):
            raise ConfigError(f"{path}:{section}: expected a mapping, got a {type(data).__name__}")
    return _from_dict(cls, data, str(path) if section is None else f"{path}:{section}")


def config_to_dict(config: Any) -> Any:
    """Plain-data (dict/list/str/number) view of a dataclass config, tuples as lists."""
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return {f.name: config_to_dict(getattr(config, f.name)) for f in dataclasses.fields(config)}
    if isinstance(config, (list, tuple)):
        return [config_to_dict(v) for v in config]
    if isinstance(config, dict):
        return {str(k): config_to_dict(v) for k, v in config.items()}
    if isinstance(config, Path):
        return str(config)
    return config


def recorded_path(path: str | Path) -> str:
    """``path`` as a record written beside results (summary.json, detector.json, a card) should hold it.

    Records travel with the package; an absolute path names the machine they were made on and is wrong
    everywhere else. A relative path is kept as given (relative to the directory the command ran in, the
    repository root by convention); an absolute one is made relative to the current directory
    (``<root>/shared/data/rruff`` run from ``<root>/main`` is ``../shared/data/rruff``), or becomes its bare
    name where no relative path exists (another drive on Windows).
    """
    text = str(path)
    if not os.path.isabs(text):
        return text
    try:
        return Path(os.path.relpath(text)).as_posix()
    except ValueError:
        return Path(text).name


def recorded_command(argv: Sequence[str]) -> str:
    """A command line for a record: every absolute path in it (``/x/y``, ``--data=/x/y``) as ``recorded_path``."""
    words = []
    for word in map(str, argv):
        key, sep, value = word.partition("=") if word.startswith("-") else ("", "", word)
        if not sep:
            key, value = "", word
        words.append(key + sep + recorded_path(value) if os.path.isabs(value) else word)
    return " ".join(words)


def config_to_json(config: Any) -> str:
    """JSON text of a config (sorted keys), as stored in HDF5 attributes and run folders."""
    return json.dumps(config_to_dict(config), sort_keys=True)


def save_config(config: Any, path: str | Path) -> Path:
    """Write the resolved config as YAML to ``path`` (creating folders) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config_to_dict(config), sort_keys=False))
    return path


def load_stage_config(path: str | Path, cls: type[T], stage: str) -> T:
    """Load ``cls`` from ``path``, from its ``stage:`` section when the file has one.

    One YAML file can then describe a whole experiment (``simulate:``, ``train:``, ...) while a
    file holding only one stage's keys still works on its own.
    """
    path = Path(path)
    data = _read_yaml(path)
    names = {f.name for f in dataclasses.fields(cls)}
    has_section = isinstance(data, dict) and stage in data and stage not in names
    return _config_from_data(path, data, cls, stage if has_section else None)
