"""parity_check's contract, pinned where planted bugs got through (``make mutation``
parity): features are compared only when asked for."""

from __future__ import annotations

import msgspec

from riskops.rules.definition import parse_rules
from riskops.rules.lists import ListStore
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


def test_the_stream_runs_draft_rules_and_reads_the_lists_it_is_given() -> None:
    """parity_check runs every rule whatever its status, against the same lists in both
    engines: a draft rule on a listed IP agrees, and hits the listed row only."""
    listed = rule(["login"], {"field": "ip", "in_list": "bad_ips"}, id="R-LIST", status="draft")
    rules = parse_rules([listed])
    assert rules[0].status is RuleStatus.DRAFT
    rows = [row(0, "login", 0, ip="2.2.2.2"), row(1, "login", 1, ip="3.3.3.3")]
    assert parity_check(rules, ListStore({"bad_ips": ["2.2.2.2"]}), rows) == []
    # The harness does report a difference on these rows when one exists (the SQL side
    # alone runs a retired version): only the listed row hits.
    retired = msgspec.structs.replace(rules[0], status=RuleStatus.RETIRED)
    got = parity_check([retired], ListStore({"bad_ips": ["2.2.2.2"]}), rows)
    assert got == [Mismatch(0, 0, "e0", "hit", "R-LIST", stream=False, sql=True)]
