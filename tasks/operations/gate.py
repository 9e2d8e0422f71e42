"""The gate between the model that serves (the champion) and a new one (the challenger): pure.

Both are scored on the same fresh holdout before this is asked; the gate only compares. The first
challenger of a problem (no champion yet) is promoted. Otherwise the challenger must beat the
champion's score on the gate's metric (lower is better) by at least ``margin``, a fraction of the
champion's score: with ``margin = 0.02`` a champion at MASE 0.800 is replaced only below 0.784.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

GATE_METRICS = ("mase", "smape", "rmse", "mae")


@dataclass(frozen=True)
class Decision:
    """What the gate decided and why, with the figures it compared."""

    promote: bool
    reason: str
    metric: str
    challenger: float
    champion: float | None  # None: there was no champion
    threshold: float | None  # the score the challenger had to beat (None without a champion)

    def as_row(self) -> dict[str, str]:
        """The decision as one row of text cells (the decision table's)."""
        shown = lambda v: "" if v is None else f"{v:.4f}"  # noqa: E731
        return {"decision": "promote" if self.promote else "keep champion", "metric": self.metric,
                "challenger": shown(self.challenger), "champion": shown(self.champion),
                "threshold": shown(self.threshold), "reason": self.reason}


def decide(challenger: Mapping[str, float], champion: Mapping[str, float] | None, metric: str = "mase",
           margin: float = 0.02) -> Decision:
    """Promote the challenger only when it beats the champion on ``metric`` by ``margin``.

    Args:
        challenger: the challenger's scores on the fresh holdout (means over series).
        champion: the champion's scores on the same holdout, or None when no champion exists yet.
        metric: the score compared, lower is better: mase | smape | rmse | mae.
        margin: the fraction of the champion's score the challenger must beat it by (0 = any better).

    Raises:
        ValueError: an unknown metric, or a margin outside [0, 1).
    """
    if metric not in GATE_METRICS:
        raise ValueError(f"metric = {metric!r}: unknown; valid metrics: {', '.join(GATE_METRICS)}")
    if not 0 <= margin < 1:
        raise ValueError(f"margin = {margin}: must be in [0, 1)")
    new = float(challenger.get(metric, math.nan))
    if not math.isfinite(new):
        return Decision(False, f"the challenger's {metric} is {new}: nothing to promote", metric, new,
                        None if champion is None else float(champion.get(metric, math.nan)), None)
    if champion is None:
        return Decision(True, "no champion yet: the first challenger is promoted", metric, new, None, None)
    old = float(champion.get(metric, math.nan))
    if not math.isfinite(old):
        return Decision(True, f"the champion's {metric} on the fresh holdout is {old}: the challenger replaces it",
                        metric, new, old, None)
    threshold = old * (1 - margin)
    if new < threshold:
        return Decision(True, f"challenger {metric} {new:.4f} < {threshold:.4f} (champion {old:.4f} less "
                              f"{margin:.0%})", metric, new, old, threshold)
    return Decision(False, f"challenger {metric} {new:.4f} >= {threshold:.4f} (champion {old:.4f} less "
                           f"{margin:.0%}): the champion stays", metric, new, old, threshold)
