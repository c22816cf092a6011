"""Small-sample statistics for rates: Wilson intervals and the two-proportion z-test.

A restaurant's A/B test has a few hundred recipients per variant and rates of a few percent,
where the textbook "p ± 1.96·sqrt(p(1-p)/n)" interval goes below zero; Wilson's does not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Z95 = 1.959963984540054  # the two-sided 95% normal quantile


@dataclass(frozen=True)
class Interval:
    """A rate and its 95% interval, as fractions (0..1)."""

    rate: float
    low: float
    high: float


def wilson_interval(successes: int, trials: int, z: float = Z95) -> Interval:
    """The Wilson score interval of successes / trials; (0, 0, 0) without trials."""
    if trials <= 0:
        return Interval(0.0, 0.0, 0.0)
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return Interval(p, max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class ZTest:
    """Two proportions compared: the z statistic and its two-sided p-value."""

    z: float
    p_value: float

    @property
    def significant(self) -> bool:
        """True when the difference is real at the 5% level."""
        return self.p_value < 0.05


def two_proportion_z_test(s1: int, n1: int, s2: int, n2: int) -> ZTest:
    """Pooled two-proportion z-test of s1/n1 against s2/n2 (two-sided).

    No data, or no variation at all (both 0% or both 100%), is no evidence: z = 0, p = 1.
    """
    if n1 <= 0 or n2 <= 0:
        return ZTest(0.0, 1.0)
    pooled = (s1 + s2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return ZTest(0.0, 1.0)
    z = (s1 / n1 - s2 / n2) / se
    return ZTest(z, math.erfc(abs(z) / math.sqrt(2)))
