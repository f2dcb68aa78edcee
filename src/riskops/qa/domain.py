"""The pure parts of QA: the deterministic draw, a case's rate under a plan, and agreement
with Cohen's kappa. No database, no clock: each is a function of its arguments.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# Below this many reviews kappa is not reported: with a handful of pairs the chance
# agreement is so unstable that the figure misleads more than it tells.
MIN_REVIEWS_FOR_KAPPA = 5
_SCALE = float(2**64)


def draw(seed: str, plan_id: int, case_id: int) -> float:
    """A number in [0, 1) fixed by the plan's seed, the plan version and the case: the case is
    sampled when it is below the case's rate. The same inputs always give the same number
    (a test or an auditor can recompute a pass); a new plan version draws afresh."""
    digest = hashlib.sha256(f"{seed}:{plan_id}:{case_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


@dataclass(frozen=True, slots=True)
class PlanRates:
    """The rates of a plan, as ``rate_for`` reads them."""

    base_rate: float
    outcome_rates: Mapping[str, float]
    queue_rates: Mapping[str, float]
    analyst_rates: Mapping[str, float]
    new_analyst_rate: float


def rate_for(
    plan: PlanRates, *, outcome: str, queue_key: str, analyst: str, analyst_is_new: bool
) -> tuple[float, list[str]]:
    """The case's rate (the highest that applies) and which rules gave it (for the reviewer:
    "why was this case sampled")."""
    candidates: list[tuple[float, str]] = [(plan.base_rate, "base")]
    if outcome in plan.outcome_rates:
        candidates.append((plan.outcome_rates[outcome], f"outcome:{outcome}"))
    if queue_key in plan.queue_rates:
        candidates.append((plan.queue_rates[queue_key], f"queue:{queue_key}"))
    if analyst in plan.analyst_rates:
        candidates.append((plan.analyst_rates[analyst], f"analyst:{analyst}"))
    elif analyst_is_new:
        candidates.append((plan.new_analyst_rate, "new_analyst"))
    rate = max(r for r, _ in candidates)
    return rate, [name for r, name in candidates if r == rate and rate > 0]


@dataclass(frozen=True, slots=True)
class Kappa:
    """Cohen's kappa of a set of (analyst outcome, reviewer outcome) pairs, or why it is not
    defined (``value`` None and ``undefined`` saying why)."""

    value: float | None
    observed: float | None  # p_o, the share of pairs with the same outcome
    expected: float | None  # p_e, the agreement expected by chance from the two marginals
    undefined: str | None = None


def cohen_kappa(
    pairs: Iterable[tuple[str, str]], *, min_reviews: int = MIN_REVIEWS_FOR_KAPPA
) -> Kappa:
    """kappa = (p_o - p_e) / (1 - p_e), p_e = sum over categories of the product of the two
    raters' shares. Undefined with fewer than ``min_reviews`` pairs, and when the pairs use
    fewer than two categories (both raters always said the same one thing: p_e = 1)."""
    pairs = list(pairs)
    n = len(pairs)
    if n == 0:
        return Kappa(None, None, None, "no reviews")
    observed = sum(1 for a, b in pairs if a == b) / n
    first = Counter(a for a, _ in pairs)
    second = Counter(b for _, b in pairs)
    expected = sum(first[k] * second[k] for k in first.keys() | second.keys()) / (n * n)
    if n < min_reviews:
        return Kappa(None, observed, expected, f"fewer than {min_reviews} reviews")
    if len(first.keys() | second.keys()) < 2 or expected >= 1.0:
        return Kappa(None, observed, expected, "a single outcome category: nothing to tell apart")
    return Kappa((observed - expected) / (1.0 - expected), observed, expected)
