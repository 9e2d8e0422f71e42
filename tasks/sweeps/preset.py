"""A preset written back as TOML: the best point of a sweep, for ``seqflow run forecast --config``.

Pure. Presets hold tables of strings, integers, floats, booleans and lists of them, which is all this
writer knows; ``tomllib`` reads what it writes back to the same data (a test checks it).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any


def to_toml(data: Mapping[str, Any], header: str = "") -> str:
    """TOML text of preset ``data``: top-level values first, then one ``[table]`` per section.

    Args:
        data: a preset as ``tomllib`` reads one (nested dicts of scalars and lists).
        header: comment lines put first, each prefixed with ``# ``.

    Raises:
        ValueError: a value TOML or a preset cannot hold (None, NaN, an object), naming its key.
    """
    lines = [f"# {line}" for line in header.splitlines()]
    _table(lines, data, ())
    return "\n".join(lines).lstrip("\n") + "\n"


def _table(lines: list[str], data: Mapping[str, Any], path: tuple[str, ...]) -> None:
    scalars = {k: v for k, v in data.items() if not isinstance(v, Mapping)}
    tables = {k: v for k, v in data.items() if isinstance(v, Mapping)}
    if path and (scalars or not tables):
        lines += ["", f"[{'.'.join(_key(p) for p in path)}]"]
    lines += [f"{_key(k)} = {_value(v, '.'.join((*path, k)))}" for k, v in scalars.items()]
    for key, table in tables.items():
        _table(lines, table, (*path, key))


def _key(key: str) -> str:
    bare = key and all(c.isascii() and (c.isalnum() or c in "-_") for c in key)
    return key if bare else json.dumps(key)


def _value(value: Any, key: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{key} = {value!r}: a preset cannot hold a non-finite number")
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v, key) for v in value) + "]"
    raise ValueError(f"{key} = {value!r}: a preset holds strings, numbers, booleans and lists only")
