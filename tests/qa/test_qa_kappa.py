"""Cohen's kappa and the deterministic draw against hand-computed examples."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskops.qa.domain import PlanRates, cohen_kappa, draw, rate_for


def pairs(*counts: tuple[str, str, int]) -> list[tuple[str, str]]:
    return [(a, b) for a, b, n in counts for _ in range(n)]


def test_kappa_of_the_textbook_two_by_two() -> None:
    # p_o = 35/50 = 0.7; A says yes 25, B says yes 30: p_e = .5*.6 + .5*.4 = 0.5; kappa 0.4
    k = cohen_kappa(
        pairs(("yes", "yes", 20), ("yes", "no", 5), ("no", "yes", 10), ("no", "no", 15))
    )
    assert k.observed == pytest.approx(0.7)
    assert k.expected == pytest.approx(0.5)
    assert k.value == pytest.approx(0.4)
    assert k.undefined is None


def test_kappa_over_three_categories() -> None:
    # 10 pairs: diagonal 2+3+1 = 6 -> p_o 0.6. A: d 4, r 4, o 2; B: d 3, r 4, o 3.
    # p_e = (4*3 + 4*4 + 2*3) / 100 = 0.34; kappa = 0.26 / 0.66
    k = cohen_kappa(
        pairs(
            ("d", "d", 2), ("d", "r", 1), ("d", "o", 1),
            ("r", "r", 3), ("r", "o", 1),
            ("o", "o", 1), ("o", "d", 1),
        )
    )  # fmt: skip
    assert k.observed == pytest.approx(0.6)
    assert k.expected == pytest.approx(0.34)
    assert k.value == pytest.approx(0.26 / 0.66)


def test_perfect_agreement_is_one_and_systematic_disagreement_negative() -> None:
    assert cohen_kappa(pairs(("a", "a", 3), ("b", "b", 3))).value == pytest.approx(1.0)
    assert cohen_kappa(pairs(("a", "b", 3), ("b", "a", 3))).value == pytest.approx(-1.0)
    # each rater sticks to one, different, category: no agreement beyond chance, and none
    assert cohen_kappa(pairs(("a", "b", 6))).value == pytest.approx(0.0)


@pytest.mark.parametrize(
    ("given_pairs", "why"),
    [
        ([], "no reviews"),
        (pairs(("a", "a", 2), ("b", "b", 2)), "fewer than 5 reviews"),
        (pairs(("a", "a", 8)), "a single outcome category: nothing to tell apart"),
    ],
    ids=["none", "too-few", "one-category"],
)
def test_kappa_is_undefined_and_says_why(given_pairs: list[tuple[str, str]], why: str) -> None:
    k = cohen_kappa(given_pairs)
    assert k.value is None
    assert k.undefined == why


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abc"), st.sampled_from("abc")), min_size=5))
def test_kappa_is_at_most_one_and_one_only_when_every_pair_agrees(
    given_pairs: list[tuple[str, str]],
) -> None:
    k = cohen_kappa(given_pairs)
    if k.value is None:
        return
    assert k.value <= 1.0 + 1e-12
    assert (abs(k.value - 1.0) < 1e-12) == all(a == b for a, b in given_pairs)


def test_the_draw_is_fixed_by_seed_plan_and_case() -> None:
    assert draw("s", 1, 42) == draw("s", 1, 42)
    assert 0.0 <= draw("s", 1, 42) < 1.0
    assert len({draw("s", 1, 42), draw("s", 2, 42), draw("t", 1, 42), draw("s", 1, 43)}) == 4


PLAN = PlanRates(
    base_rate=0.05,
    outcome_rates={"offboarded": 1.0, "dismissed": 0.1},
    queue_rates={"ato": 0.2},
    analyst_rates={"veteran": 0.0, "watched": 0.5},
    new_analyst_rate=0.3,
)


@pytest.mark.parametrize(
    ("outcome", "queue", "analyst", "new", "rate", "why"),
    [
        ("resolved", "aml", "ana", False, 0.05, ["base"]),
        ("dismissed", "aml", "ana", False, 0.1, ["outcome:dismissed"]),
        ("offboarded", "aml", "ana", True, 1.0, ["outcome:offboarded"]),
        ("resolved", "ato", "ana", False, 0.2, ["queue:ato"]),
        ("resolved", "aml", "ana", True, 0.3, ["new_analyst"]),
        ("resolved", "aml", "veteran", True, 0.05, ["base"]),  # own rate replaces "new"
        ("dismissed", "aml", "watched", False, 0.5, ["analyst:watched"]),
    ],
    ids=["base", "outcome", "every-offboarding", "queue", "new-analyst", "own-rate", "watched"],
)
def test_a_case_gets_the_highest_rate_that_applies(
    outcome: str, queue: str, analyst: str, new: bool, rate: float, why: list[str]
) -> None:
    assert rate_for(
        PLAN, outcome=outcome, queue_key=queue, analyst=analyst, analyst_is_new=new
    ) == (
        rate,
        why,
    )
