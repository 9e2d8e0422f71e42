"""The gate between the model that serves (the champion) and a new one (the challenger): pure.

Both are scored on the same data before this is asked (forecasters: the same fresh holdout; word
vectors: the same benchmark); the gate only compares. The first challenger of a problem (no
champion yet) is promoted. Otherwise the challenger must beat the champion's score on the gate's
metric by at least ``margin``, a fraction of the size of the champion's score. Lower is better for a
forecaster's errors: with ``margin = 0.02`` a champion at MASE 0.800 is replaced only below 0.784.
Higher is better for a benchmark score (``higher_is_better=True``): a champion at Spearman ρ 0.500
is replaced only above 0.510, and one at −0.200 above −0.196 (the margin is taken from the score's
size, so it always asks for a better score, whatever its sign).
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
    higher_is_better: bool = False  # the direction the metric was compared in

    def as_row(self) -> dict[str, str]:
        """The decision as one row of text cells (the decision table's)."""
        shown = lambda v: "" if v is None else f"{v:.4f}"  # noqa: E731
        return {"decision": "promote" if self.promote else "keep champion", "metric": self.metric,
                "challenger": shown(self.challenger), "champion": shown(self.champion),
                "threshold": shown(self.threshold), "reason": self.reason}


def decide(challenger: Mapping[str, float], champion: Mapping[str, float] | None, metric: str = "mase",
           margin: float = 0.02, higher_is_better: bool = False) -> Decision:
    """Promote the challenger only when it beats the champion on ``metric`` by ``margin``.

    Args:
        challenger: the challenger's scores (forecasters: means over series on the fresh holdout).
        champion: the champion's scores on the same data, or None when no champion exists yet.
        metric: the score compared. Lower is better: mase | smape | rmse | mae. With
            ``higher_is_better`` any other score the caller's config allows (a benchmark's Spearman
            ρ or accuracy); the forecasters' error metrics are refused there.
        margin: the fraction of the champion's score (its size) the challenger must beat it by (0 = any better).
        higher_is_better: compare so that the larger score wins.

    Raises:
        ValueError: an unknown metric (or an error metric with ``higher_is_better``), or a margin outside [0, 1).
    """
    if higher_is_better and metric in GATE_METRICS:
        raise ValueError(f"metric = {metric!r} is lower-is-better ({', '.join(GATE_METRICS)}): compare it with "
                         "higher_is_better = False")
    if not higher_is_better and metric not in GATE_METRICS:
        raise ValueError(f"metric = {metric!r}: unknown; valid metrics: {', '.join(GATE_METRICS)}")
    if not metric:
        raise ValueError("metric = '': name the score compared")
    if not 0 <= margin < 1:
        raise ValueError(f"margin = {margin}: must be in [0, 1)")
    new = float(challenger.get(metric, math.nan))
    if not math.isfinite(new):
        return Decision(False, f"the challenger's {metric} is {new}: nothing to promote", metric, new,
                        None if champion is None else float(champion.get(metric, math.nan)), None, higher_is_better)
    if champion is None:
        return Decision(True, "no champion yet: the first challenger is promoted", metric, new, None, None,
                        higher_is_better)
    old = float(champion.get(metric, math.nan))
    if not math.isfinite(old):
        return Decision(True, f"the champion's {metric} is {old} (it could not be scored): the challenger replaces it",
                        metric, new, old, None, higher_is_better)
    # old × (1 ∓ margin) on the side of a better score; the factor flips for a negative score.
    better = 1 + margin if higher_is_better else 1 - margin
    worse = 1 - margin if higher_is_better else 1 + margin
    threshold = old * (better if old >= 0 else worse)
    wins = new > threshold if higher_is_better else new < threshold
    said = f"(champion {old:.4f} {'plus' if higher_is_better else 'less'} {margin:.0%})"
    beats, fails = (">", "<=") if higher_is_better else ("<", ">=")
    if wins:
        return Decision(True, f"challenger {metric} {new:.4f} {beats} {threshold:.4f} {said}", metric, new, old,
                        threshold, higher_is_better)
    return Decision(False, f"challenger {metric} {new:.4f} {fails} {threshold:.4f} {said}: the champion stays",
                    metric, new, old, threshold, higher_is_better)
