"""Fresh data against the data the champion was trained on: schema, counts, missing values, new steps, drift.

Pure: pandas and NumPy. The champion's data is summarised once, when it is trained, as a JSON-ready
:func:`profile` (no copy of the data travels with the model); fresh data is checked against that
summary by :func:`validate`. Drift is measured per series on its recent values: the last
``recent_steps`` of the fresh series against the champion's last as many, as the ratio of their
means (level), of their standard deviations (scale), and the population stability index of the
fresh values over the champion's quantile bins (reported; a gate only when ``max_psi`` is set).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

PROFILE_FORMAT = "seqflow-data-profile/1"
PSI_BINS = 5  # quantile bins of the champion's recent values (few: a recent window holds a few dozen values)


def profile(frame: pd.DataFrame, frequency: str, recent_steps: int) -> dict[str, Any]:
    """Summarise a long-format frame (``series_id, timestamp, value``) for later validation.

    Args:
        frame: the data a model was trained and scored on.
        frequency: its frequency (hourly ... yearly).
        recent_steps: values kept per series for the drift comparison (its last ones).
    """
    series = {}
    for sid, part in frame.groupby("series_id", sort=True):
        values = part["value"].to_numpy(dtype=np.float64)
        recent = values[-recent_steps:]
        series[str(sid)] = {
            "rows": int(len(values)),
            "last_timestamp": str(pd.Timestamp(part["timestamp"].iloc[-1])),
            "recent": [float(v) for v in recent],
        }
    return {"format": PROFILE_FORMAT, "columns": list(frame.columns), "frequency": frequency,
            "recent_steps": int(recent_steps), "series": series}


@dataclass(frozen=True)
class Check:
    """One rule applied to one series (or to the whole table, ``series_id = "*"``)."""

    series_id: str
    check: str  # schema | series | rows | missing | new_steps | level | scale | psi
    value: str
    limit: str
    ok: bool


@dataclass(frozen=True)
class ValidationReport:
    """Every check, and what they add up to: ``ok``, ``no_new_data`` or ``failed``."""

    status: str
    summary: str
    checks: tuple[Check, ...] = field(default=())

    @property
    def failures(self) -> tuple[Check, ...]:
        """The checks that did not pass."""
        return tuple(c for c in self.checks if not c.ok)

    def rows(self) -> list[dict[str, Any]]:
        """The checks as table rows."""
        return [asdict(c) for c in self.checks]

    def markdown(self) -> str:
        """The report as Markdown: the verdict, then a table of every check."""
        lines = [f"**{self.status}**: {self.summary}", "", "| series | check | value | limit | ok |",
                 "|---|---|---|---|---|"]
        lines += [f"| {c.series_id} | {c.check} | {c.value} | {c.limit} | {'yes' if c.ok else '**no**'} |"
                  for c in self.checks]
        return "\n".join(lines) + "\n"


def psi(reference: np.ndarray, fresh: np.ndarray, bins: int = PSI_BINS) -> float:
    """Population stability index of ``fresh`` over the quantile bins of ``reference`` (both ``(n,)``)."""
    ref = np.asarray(reference, dtype=np.float64)
    new = np.asarray(fresh, dtype=np.float64)
    if ref.size < 2 or new.size < 2:
        return math.nan
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1]))
    expected = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=edges.size + 1) / ref.size
    actual = np.bincount(np.searchsorted(edges, new, side="right"), minlength=edges.size + 1) / new.size
    floor = 1e-4  # an empty bin on either side would make the log infinite
    expected, actual = np.maximum(expected, floor), np.maximum(actual, floor)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def _ratio(new: float, old: float) -> float:
    """How many times larger the bigger of two positive quantities is (1 = unchanged; inf when one is 0)."""
    new, old = abs(new), abs(old)
    if new == old:
        return 1.0
    if min(new, old) == 0:
        return math.inf
    return max(new, old) / min(new, old)


def validate(frame: pd.DataFrame, frequency: str, champion: Mapping[str, Any], settings: Any,
             latest: Mapping[str, Any] | None = None) -> ValidationReport:
    """Check fresh data against the champion's :func:`profile`.

    Args:
        frame: the fresh data, long format.
        frequency: its frequency.
        champion: the champion's profile: schema, series, rows and drift are checked against it.
        settings: a :class:`tasks.operations.config.ValidationConfig`-like object (``max_level_ratio``,
            ``max_scale_ratio``, ``max_psi``, ``max_share_missing``).
        latest: the profile of the newest data a retrain already trained on (whatever it decided),
            when newer than the champion's: new steps are counted after it. None: the champion's.

    Returns:
        ``failed`` when any check fails; else ``no_new_data`` when no series moved past the last
        timestamp already trained on; else ``ok``.
    """
    checks: list[Check] = []
    expected_columns = list(champion.get("columns", []))
    checks.append(Check("*", "schema", ",".join(frame.columns), ",".join(expected_columns),
                        list(frame.columns) == expected_columns))
    checks.append(Check("*", "frequency", frequency, str(champion.get("frequency")), frequency == champion.get("frequency")))
    values = pd.to_numeric(frame["value"], errors="coerce")
    missing = float(values.isna().mean()) if len(values) else 0.0
    checks.append(Check("*", "missing", f"{missing:.4f}", f"<= {settings.max_share_missing:g}",
                        missing <= settings.max_share_missing))
    fresh = {str(sid): part for sid, part in frame.groupby("series_id", sort=True)}
    known = champion.get("series", {})
    seen = (latest or champion).get("series", {})
    for sid in sorted(set(known) - set(fresh)):
        checks.append(Check(sid, "series", "missing from the fresh data", "every series of the champion's", False))
    moved = 0
    for sid, part in fresh.items():
        old = known.get(sid)
        if old is None:
            checks.append(Check(sid, "series", "new series", "reported", True))
            continue
        checks.append(Check(sid, "rows", str(len(part)), f">= {old['rows']}", len(part) >= old["rows"]))
        last = pd.Timestamp(part["timestamp"].iloc[-1])
        trained_until = seen.get(sid, old)["last_timestamp"]
        moved += last > pd.Timestamp(trained_until)
        checks.append(Check(sid, "new_steps", str(last), f"> {trained_until}", True))
        reference = np.asarray(old["recent"], dtype=np.float64)
        recent = part["value"].to_numpy(dtype=np.float64)[-len(reference):]
        level = _ratio(float(np.mean(recent)), float(np.mean(reference)))
        scale = _ratio(float(np.std(recent)), float(np.std(reference)))
        checks.append(Check(sid, "level", f"{level:.3f}", f"<= {settings.max_level_ratio:g}", level <= settings.max_level_ratio))
        checks.append(Check(sid, "scale", f"{scale:.3f}", f"<= {settings.max_scale_ratio:g}", scale <= settings.max_scale_ratio))
        index = psi(reference, recent)
        limit = "reported" if settings.max_psi is None else f"<= {settings.max_psi:g}"
        checks.append(Check(sid, "psi", f"{index:.3f}", limit,
                            settings.max_psi is None or not math.isfinite(index) or index <= settings.max_psi))
    failed = [c for c in checks if not c.ok]
    if failed:
        drifted = sorted({c.series_id for c in failed if c.check in ("level", "scale", "psi")})
        said = "; ".join(f"{c.series_id}: {c.check} {c.value} (limit {c.limit})" for c in failed[:5])
        more = f" (+{len(failed) - 5} more)" if len(failed) > 5 else ""
        what = f"drift in {len(drifted)} series; " if drifted else ""
        return ValidationReport("failed", f"{what}{len(failed)} check(s) failed: {said}{more}", tuple(checks))
    if moved == 0:
        return ValidationReport("no_new_data", "no series has a step after the last one already trained on: "
                                "nothing to retrain on", tuple(checks))
    return ValidationReport("ok", f"{moved} of {len(fresh)} series moved forward; no drift beyond the limits",
                            tuple(checks))
