"""Estimates over seeds: mean, sample std and a Student-t interval, computed here or read from a metrics file.

Readers accept a value in any of the shapes the stages write or may write:
- a plain number (one run);
- `{"mean": m, "std": s}` (tinyhelen.glue.aggregate), optionally with `"n"` or `"seeds"`;
- an interval as `"ci95": [low, high]`, `"ci": [low, high]`, `"interval": [low, high]` or
  `"ci_low"`/`"ci_high"` (or `"low"`/`"high"`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tinyhelen.core.stats import mean_interval
from tinyhelen.report.page import is_number

_INTERVAL_KEYS = ("ci95", "ci", "interval")


@dataclass(frozen=True)
class Estimate:
    """A mean over n runs, its sample standard deviation and an interval (None where not known)."""

    mean: float
    std: float | None = None
    low: float | None = None
    high: float | None = None
    n: int | None = None

    def scaled(self, factor: float) -> Estimate:
        def times(v):
            return None if v is None else v * factor

        return Estimate(
            self.mean * factor,
            None if self.std is None else abs(self.std * factor),
            times(self.low),
            times(self.high),
            self.n,
        )

    def text(self, digits: int, *, interval: bool = True) -> str:
        """`m ± s` (n > 1), with ` [low, high]` when an interval is known and asked for; `m` for one run."""
        out = f"{self.mean:.{digits}f}"
        if self.std is not None and (self.n is None or self.n > 1) and self.std > 0:
            out += f" ± {self.std:.{digits}f}"
        if interval and self.low is not None and self.high is not None:
            out += f" [{self.low:.{digits}f}, {self.high:.{digits}f}]"
        return out

    def signed(self, digits: int) -> str:
        """A difference: `+m [+low, +high]` when an interval is known, ` (n=N)` for more than one run."""
        out = f"{self.mean:+.{digits}f}"
        if self.low is not None and self.high is not None:
            out += f" [{self.low:+.{digits}f}, {self.high:+.{digits}f}]"
        if self.n and self.n > 1:
            out += f" (n={self.n})"
        return out

    @property
    def excludes_zero(self) -> bool | None:
        if self.low is None or self.high is None:
            return None
        return self.low > 0 or self.high < 0


def summarise(values: Sequence[float], level: float) -> Estimate | None:
    """Mean, sample std (ddof 1) and the two-sided Student-t interval at `level` (`core.stats.mean_interval`);
    no interval for one value."""
    values = [float(v) for v in values if is_number(v)]
    if not values:
        return None
    est = mean_interval(values, level)
    return Estimate(est["mean"], est["std"], est["low"], est["high"], est["n"])


def read_estimate(value: Any) -> Estimate | None:
    """An `Estimate` from a number or a mapping in one of the shapes in the module docstring; None otherwise."""
    if is_number(value):
        return Estimate(float(value), None, None, None, 1)
    if not isinstance(value, Mapping) or not is_number(value.get("mean")):
        return None
    std = value.get("std") if is_number(value.get("std")) else None
    low = high = None
    for key in _INTERVAL_KEYS:
        pair = value.get(key)
        if isinstance(pair, Sequence) and len(pair) == 2 and all(is_number(v) for v in pair):
            low, high = float(pair[0]), float(pair[1])
            break
    else:
        for lo_key, hi_key in (("ci_low", "ci_high"), ("low", "high")):
            if is_number(value.get(lo_key)) and is_number(value.get(hi_key)):
                low, high = float(value[lo_key]), float(value[hi_key])
                break
    n = value.get("n")
    if not is_number(n):
        seeds = value.get("seeds")
        n = (
            len(seeds)
            if isinstance(seeds, Sequence) and not isinstance(seeds, str)
            else (seeds if is_number(seeds) else None)
        )
    return Estimate(float(value["mean"]), None if std is None else float(std), low, high, None if n is None else int(n))


def verdict(est: Estimate) -> str:
    """A short reading of a difference: whether its interval excludes 0 (nothing claimed without one)."""
    if est.excludes_zero is None:
        return " — one seed: no interval, no conclusion"
    return " — interval excludes 0" if est.excludes_zero else " — interval includes 0: no clear difference"
