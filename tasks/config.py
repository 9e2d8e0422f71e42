"""Typed configuration for every flow: pydantic defaults → TOML preset → ``--set a.b=c`` → a frozen object.

This module is generic: each flow's schema (``tasks.forecasting.config.ForecastConfig``, ...) extends
:class:`RunConfig` and is loaded by :func:`load_config`. Every model is frozen, forbids unknown keys
and refuses non-finite numbers; presets and overrides are validated strictly (a TOML string ``"32"``
is not a number), so a typo is an error that names the key instead of a silently ignored setting.
Optional settings are switched off with ``off`` or ``none``, which both TOML and ``--set`` can write.
"""

from __future__ import annotations

import re
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from tasks.errors import InputError, not_a_file_rule, unreadable_rule

OFF_WORDS = ("off", "none")  # how presets and --set spell "no value" for an optional setting
# The largest seed NumPy's legacy seeding takes (np.random.seed, keras.utils.set_random_seed): a
# larger one passed validation and crashed the run. Every integer setting has an upper bound, so a
# value no C integer holds is refused at load naming its key (tests/test_config.py checks them all).
SEED_MAX = 2**32 - 1
# A bound for settings that count steps, windows or items: far past any run this machine makes,
# well inside the 32-bit integers TensorFlow, NumPy and gensim take.
COUNT_MAX = 100_000_000

# What MLflow's Model Registry accepts as a name; a config that names a registered model is checked
# against it at load, not by MLflow after the training.
REGISTRY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


def check_registry_name(value: str | None) -> str | None:
    """Return a registered model name (or None) unchanged if the Model Registry accepts it.

    Raises:
        ValueError: the name has a character the registry refuses, or is too long.
    """
    if value is not None and not REGISTRY_NAME.fullmatch(value):
        raise ValueError("a registered model name is letters, digits, '.', '_' and '-' (at most "
                         "200, starting with a letter or digit); '/' and spaces are not allowed")
    return value


def registry_slug(text: str, fallback: str) -> str:
    """``text`` lowercased with every run of characters the registry refuses made one ``-`` (``fallback`` if empty)."""
    return re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-.") or fallback


class ConfigError(InputError):
    """A configuration that breaks a rule; the message names the key, the value and the rule."""


def _admits_none(annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return type(None) in typing.get_args(annotation)
    return annotation is type(None)


class Frozen(BaseModel):
    """Base of every config section: frozen, no unknown keys, no ``inf``/``nan``, ``off`` = None."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _off_means_none(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str) and value.strip().lower() in OFF_WORDS:
            field = cls.model_fields.get(info.field_name or "")
            if field is not None and _admits_none(field.annotation):
                return None
        return value


class TrackingConfig(Frozen):
    """MLflow settings (the tracking URI itself comes from MLFLOW_TRACKING_URI or the default store)."""

    experiment: str = Field("seqflow", min_length=1)  # MLflow experiment the flow's runs go to
    log_models: bool = True  # log each trained model as an MLflow pyfunc model

    @field_validator("experiment")
    @classmethod
    def _a_name_not_a_path(cls, value: str) -> str:
        # The store never makes a path of it (tasks.tracking.store.experiment_folder); refusing
        # path-like names here says so at once instead of filing the runs under a hashed folder.
        if any(c in value for c in "/\\") or ".." in value or any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise ValueError("an experiment name cannot be a path: no '/', '\\', '..' or control characters")
        return value


class RunConfig(Frozen):
    """What every flow's config has: a seed and where its runs are tracked."""

    seed: int = Field(42, ge=0, le=SEED_MAX)  # drives numpy, TensorFlow/Keras initialisation and shuffling
    tracking: TrackingConfig = TrackingConfig()  # the MLflow experiment and what is logged


Schema = TypeVar("Schema", bound=RunConfig)


def flatten(config: BaseModel, prefix: str = "") -> dict[str, str]:
    """Flatten a config into ``{"a.b": "value"}`` pairs, the form MLflow params take."""
    flat: dict[str, str] = {}
    for key, value in config.model_dump().items():
        _flatten_into(flat, f"{prefix}{key}", value)
    return flat


def _flatten_into(flat: dict[str, str], key: str, value: Any) -> None:
    if isinstance(value, dict):
        for sub, sub_value in value.items():
            _flatten_into(flat, f"{key}.{sub}", sub_value)
    elif isinstance(value, (list, tuple)):
        flat[key] = ",".join(str(v) for v in value)
    else:
        flat[key] = str(value)


def parse_override(text: str) -> tuple[list[str], Any]:
    """Parse one ``a.b=c`` override into its key path and value (a TOML value, or a bare word as a string)."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE, e.g. --set window.lookback=24")
    key, raw = (part.strip() for part in text.split("=", 1))
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"--set {text!r}: the key must be dotted names, e.g. model.units")
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw  # a bare word such as lstm or a list such as lstm,gru: validated by the schema
    return key.split("."), value


def read_preset(preset: Path) -> dict[str, Any]:
    """Read a TOML preset into a dict.

    Raises:
        ConfigError: the path is missing, a directory or another non-file (a FIFO), unreadable, or not
            valid TOML.
    """
    preset = Path(preset)
    if preset.is_dir():
        raise ConfigError(f"--config {preset}: is a directory; give a .toml file (see flows/configs/)")
    if not preset.exists():
        raise ConfigError(f"--config {preset}: no such file")
    if not preset.is_file():
        raise ConfigError(f"--config {preset}: {not_a_file_rule(preset)}")
    try:
        return tomllib.loads(preset.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"--config {preset}: {unreadable_rule(exc)}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--config {preset}: not valid TOML ({exc})") from exc


def merge_overrides(data: dict[str, Any], overrides: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Apply ``--set`` overrides on top of preset data (in place) and return it."""
    for text in overrides:
        path, value = parse_override(text)
        node = data
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"--set {text!r}: {part!r} is a value, not a section")
            node = child
        node[path[-1]] = value
    return data


def load_config(
    schema: type[Schema],
    preset: Path | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    listing: str | None = None,
) -> Schema:
    """Build a frozen ``schema`` from its defaults, an optional TOML preset, then ``--set`` overrides.

    Args:
        schema: the flow's config class, a :class:`RunConfig`.
        preset: a TOML file; its keys mirror the schema's sections.
        overrides: ``KEY=VALUE`` strings, applied in order after the preset.
        listing: the command that lists ``schema``'s settings (the caller's, e.g. a CLI's), named in
            an unknown key's message; None names none. This module knows no command of its own.

    Raises:
        ConfigError: the preset is missing or not TOML, or a key or value breaks a rule; the message
            names the key, the value given and the rule.
    """
    data = read_preset(preset) if preset is not None else {}
    merge_overrides(data, overrides)
    try:
        return schema.model_validate(data, strict=True)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, data, schema, listing)) from None


def _union_tags(annotation: Any) -> dict[str, type[BaseModel]] | None:
    """The members of a tagged union of sections, by tag; None for any other annotation."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is typing.Annotated:
        return _union_tags(args[0])
    if typing.get_origin(annotation) not in (typing.Union, types.UnionType):
        return None
    members: dict[str, type[BaseModel]] = {}
    for arg in args:
        if typing.get_origin(arg) is not typing.Annotated:
            return None
        inner, *meta = typing.get_args(arg)
        tag = next((m.tag for m in meta if hasattr(m, "tag")), None)
        if tag is None or not (isinstance(inner, type) and issubclass(inner, BaseModel)):
            return None
        members[tag] = inner
    return members


def config_location(schema: type[BaseModel] | None, loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop the tags pydantic puts into an error's location inside a tagged union of sections.

    ``("source", "csv", "path")`` is the key ``source.path`` of the ``csv`` kind of source.
    """
    out: list[Any] = []
    current: Any = schema
    skip_tag: dict[str, type[BaseModel]] | None = None
    for part in loc:
        if skip_tag is not None:
            current, skip_tag = skip_tag.get(part), None
            if current is not None:
                continue
        out.append(part)
        field = current.model_fields.get(part) if isinstance(current, type) and issubclass(current, BaseModel) else None
        if field is None:
            current = None
            continue
        skip_tag = _union_tags(field.annotation)
        current = field.annotation if skip_tag is None else None
    return tuple(out)


def describe_validation_error(
    exc: ValidationError, data: dict[str, Any], schema: type[BaseModel] | None = None, listing: str | None = None
) -> str:
    """Turn pydantic's report into one line: ``key = value: rule`` per problem, ``; ``-joined.

    ``listing``, the command that lists the settings, is named after an unknown key.
    """
    unknown = f"not a setting of this config; `{listing}` lists them" if listing else "not a setting of this config"
    lines = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        loc = config_location(schema, loc)
        key = ".".join(str(p) for p in loc)
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            lines.append(f"{key}: unknown key ({unknown})")
        elif err["type"] == "missing":
            lines.append(f"{key}: required (it has no default)")
        elif key and not (err["type"] == "value_error" and isinstance(_lookup(data, loc), dict)):
            lines.append(f"{key} = {_lookup(data, loc)!r}: {message}")
        else:
            lines.append(message)
    return "; ".join(lines)


def _lookup(data: Any, loc: tuple[Any, ...]) -> Any:
    for part in loc:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, (list, tuple)) and isinstance(part, int) and part < len(data):
            data = data[part]
        else:
            return "<default>"
    return data


def describe_schema(schema: type[BaseModel], config: BaseModel | None = None) -> list[tuple[str, str, str, str]]:
    """Every key of ``schema`` as ``(key, value, default, comment)``, the comment taken from the source.

    The one-line comment after each field is the setting's documentation, so a listing of the
    settings and the code cannot drift apart.
    """
    rows: list[tuple[str, str, str, str]] = []
    _describe_into(rows, schema, config, "")
    return rows


def _describe_into(rows: list, schema: type[BaseModel], config: BaseModel | None, prefix: str) -> None:
    comments = field_comments(schema)
    for name, field in schema.model_fields.items():
        value = getattr(config, name) if config is not None else field.default
        if isinstance(value, BaseModel):
            # A union section (a source kind) is described as the kind chosen, with that kind's defaults.
            _describe_into(rows, type(value), value, f"{prefix}{name}.")
            continue
        shown = ",".join(map(str, value)) if isinstance(value, tuple) else ("off" if value is None else str(value))
        default = field.default
        default_shown = "(required)" if field.is_required() else (
            ",".join(map(str, default)) if isinstance(default, tuple) else ("off" if default is None else str(default)))
        rows.append((f"{prefix}{name}", shown, default_shown, comments.get(name, "")))


def field_comments(schema: type[BaseModel]) -> dict[str, str]:
    """The trailing ``# comment`` of each field assignment in ``schema``'s class body (and its bases')."""
    import ast
    import inspect
    import textwrap

    found: dict[str, str] = {}
    for klass in reversed(schema.__mro__):
        if not (isinstance(klass, type) and issubclass(klass, BaseModel)) or klass is BaseModel:
            continue
        try:
            source = textwrap.dedent(inspect.getsource(klass))
        except (OSError, TypeError):
            continue
        lines = source.splitlines()
        for node in ast.parse(source).body[0].body:
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                line = lines[node.end_lineno - 1]
                if "#" in line:
                    found[node.target.id] = line.split("#", 1)[1].strip()
    return found
