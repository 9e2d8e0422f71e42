"""A sweep's points: a grid (or a seeded sample of it) over config keys of a base preset, each point
checked against the flow's schema before anything starts, and the finished points ranked.

Pure: no Prefect, MLflow, storage or paths; the flow's schema is an argument, so this module imports
no domain.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import random
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import Field, ValidationError, field_validator

from tasks.config import ConfigError, Frozen, Schema, describe_validation_error

Point = dict[str, Any]  # dotted config key -> the value this point gives it, e.g. {"model.units": 8}


class SweepConfig(Frozen):
    """What a ``sweep.toml`` says: the base preset, the grid, how many points, how they are ranked."""

    base: str = Field(min_length=1)  # the preset every point starts from (a path, as for --config)
    grid: dict[str, list[Any]]  # dotted config key -> the values it takes, e.g. "model.units" = [4, 8]
    sample: int | None = Field(None, ge=1)  # a seeded random sample of this many points; None = the whole grid
    seed: int = Field(0, ge=0)  # draws the sample; the points' own seed comes from the base preset
    metric: str = Field("mase", min_length=1)  # ranked by, lower is better

    @field_validator("grid", mode="before")
    @classmethod
    def _dotted(cls, grid: Any) -> Any:
        # Unquoted, `model.units = [4, 8]` under [grid] is a TOML table `model` holding `units`: the
        # same key as the quoted "model.units", so it is read as one.
        return _flatten_tables(grid) if isinstance(grid, dict) else grid

    @field_validator("grid")
    @classmethod
    def _keys_and_values(cls, grid: dict[str, list[Any]]) -> dict[str, list[Any]]:
        if not grid:
            raise ValueError("a sweep needs at least one key, e.g. \"model.units\" = [4, 8]")
        for key, values in grid.items():
            if not key or any(not part for part in key.split(".")):
                raise ValueError(f"grid key {key!r}: must be dotted names, e.g. model.units")
            if not values:
                raise ValueError(f"grid key {key!r}: needs at least one value")
            if len({_canonical(v) for v in values}) < len(values):
                raise ValueError(f"grid key {key!r}: a value is given twice in {values!r}")
        return grid


def _flatten_tables(grid: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in grid.items():
        if isinstance(value, Mapping):
            flat.update(_flatten_tables(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def grid_size(grid: Mapping[str, Sequence[Any]]) -> int:
    """How many points the whole grid has (the product of its value counts)."""
    return math.prod(len(values) for values in grid.values())


def expand(grid: Mapping[str, Sequence[Any]], sample: int | None = None, seed: int = 0) -> list[Point]:
    """The grid's points in grid order (the last key varies fastest), or a seeded sample of them.

    A sample draws ``sample`` distinct points without replacement with ``random.Random(seed)`` and keeps
    them in grid order, so the same seed gives the same points; a sample as large as the grid is the grid.
    """
    keys = list(grid)
    every = itertools.product(*(grid[k] for k in keys))
    total = grid_size(grid)
    if sample is None or sample >= total:
        return [dict(zip(keys, values)) for values in every]
    chosen = set(random.Random(seed).sample(range(total), sample))
    return [dict(zip(keys, values)) for i, values in enumerate(every) if i in chosen]


def describe_point(point: Point) -> str:
    """A point as ``key=value`` pairs, the form ``--set`` takes."""
    return ", ".join(f"{k}={_canonical(v)}" for k, v in point.items())


def apply_point(base: Mapping[str, Any], point: Point) -> dict[str, Any]:
    """A copy of preset data ``base`` with the point's dotted keys set in it.

    Raises:
        ConfigError: a key goes through a value (``model.units.x`` where ``model.units`` is a number).
    """
    data = copy.deepcopy(dict(base))
    for key, value in point.items():
        node = data
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"grid key {key!r}: {part!r} is a value, not a section")
            node = child
        node[parts[-1]] = copy.deepcopy(value)
    return data


def point_configs(schema: type[Schema], base: Mapping[str, Any], points: Sequence[Point],
                  listing: str | None = None) -> list[Schema]:
    """Check every point against ``schema`` before anything runs; return their frozen configs.

    Every bad point is reported, not only the first: one line each, naming the point (its number and
    its values) and the key and rule it breaks.

    Raises:
        ConfigError: ``sweep point 2 of 4 (model.units=0): model.units = 0: Input should be ...``.
    """
    configs, problems = [], []
    for number, point in enumerate(points, start=1):
        where = f"sweep point {number} of {len(points)} ({describe_point(point)})"
        try:
            data = apply_point(base, point)
            configs.append(schema.model_validate(data, strict=True))
        except ConfigError as exc:
            problems.append(f"{where}: {exc}")
        except ValidationError as exc:
            problems.append(f"{where}: {describe_validation_error(exc, data, schema, listing)}")
    if problems:
        raise ConfigError("; ".join(problems))
    return configs


def rank(scores: Sequence[float | None]) -> list[int]:
    """Indices of the points by score, best (lowest) first; a failed point (None, NaN, inf) is never ranked.

    Ties keep the points' order, so the ranking does not depend on where a point ran.
    """
    finite = [i for i, s in enumerate(scores) if s is not None and math.isfinite(s)]
    return sorted(finite, key=lambda i: scores[i])


def point_score(ranking: Sequence[Mapping[str, Any]], metric: str) -> float | None:
    """A point's score: the ``metric`` of the forecaster chosen before its test part was seen (``chosen``:
    model.recipe = auto's ``auto``, a manual point's only model), else the best of its trained models,
    baselines left out.

    Args:
        ranking: the point's ranked rows, each with ``kind`` (``model`` or ``baseline``), ``chosen`` and
            the metric.
        metric: the column ranked by, e.g. ``mase``.

    Returns:
        None when no model of the point has a finite score (every model failed).
    """
    chosen = [row.get(metric) for row in ranking if row.get("chosen")]
    scores = chosen or [row.get(metric) for row in ranking if row.get("kind") == "model"]
    finite = [float(s) for s in scores if s is not None and math.isfinite(s)]
    return min(finite) if finite else None


def fixed_keys_in(grid: Mapping[str, Any], fixed: Sequence[str]) -> list[str]:
    """The grid keys that are, or lie under, a key every point must share (``fixed``), in grid order."""
    return [k for k in grid if any(k == f or k.startswith(f + ".") or f.startswith(k + ".") for f in fixed)]
