"""parity_check's contract, pinned where planted bugs got through (``make mutation``
parity): features are compared only when asked for."""

from __future__ import annotations

import msgspec

from riskops.rules.definition import parse_rules
from riskops.rules.parity import Mismatch, parity_check
from riskops.rules.types import RuleStatus

from .helpers import row, rule

COUNTED = rule(
    ["deposit"],
    {"feature": "n", "gte": 1},
    {"n": {"agg": "count", "window": "1m"}},
    id="R-COUNT",
)
ROWS = [row(0, "deposit", 0, usd_cents=500, event_id="d0"), row(1, "login", 1)]


def test_without_features_only_hits_are_compared() -> None:
    """A retired rule runs in SQL only: its hit is a difference. Its feature is computed by
    SQL alone as well, but hits are all that is compared unless features are asked for."""
    [live] = parse_rules([COUNTED])
    retired = msgspec.structs.replace(live, status=RuleStatus.RETIRED)
    got = parity_check([retired], None, ROWS)
    assert got == [Mismatch(0, 0, "d0", "hit", "R-COUNT", stream=False, sql=True)]
