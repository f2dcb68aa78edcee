"""The case page's anomaly panel in a real browser (ADR 0039): the account's recorded
anomalies, newest as a table of deviating features (own baseline, peers), older ones
listed and paged; the empty state; stored reasons of any shape never break it."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from riskops.cases.alert_intake import raise_alert
from riskops.cases.models import AlertSource
from riskops.cases.schemas import AlertIn
from riskops.kernel.clock import utcnow
from riskops.learn.anomaly import RULE_ID, Anomaly, AnomalyState, peer_of
from riskops.learn.stream import FeatureState
from riskops.monitor import repository as monitor_repo
from riskops.monitor.models import Alert, DecisionOutcome

HOUR = 3_600_000_000
DAY = 24 * HOUR


def fan_out_reason() -> str:
    """What the monitor stores for a sudden fan-out (the real features and state)."""
    rng = random.Random(3)
    features, state = FeatureState(), AnomalyState()
    seq = 0

    def feed(account: str, ts: int, kind: str, usd: float, cp: str | None) -> Anomaly:
        nonlocal seq
        seq += 1
        row = {
            "seq": seq,
            "row": 0,
            "type": kind,
            "account_id": account,
            "ts_us": ts,
            "direction": "in" if kind == "deposit" else "out",
            "usd_cents": round(usd * 100),
            "counterparty_id": cp,
            "address": None if cp else f"addr-{account}",
            "account.rating_band": "low",
        }
        return state.observe(account, peer_of(row), ts, features.update(row))

    for day in range(30):
        for i in range(30):
            ts = day * DAY + i * 60_000_000 + rng.randrange(8) * HOUR
            feed(f"a{i}", ts, "deposit", rng.uniform(50, 200), None)
            feed(f"a{i}", ts + HOUR, "transfer.internal", rng.uniform(30, 150), f"a{(i + 1) % 30}")
    found: Anomaly | None = None
    for k in range(14):
        found = feed("a7", 30 * DAY + k * 600_000_000, "transfer.internal", 90.0, f"b{k}")
    assert found is not None and found.high
    reason: str = found.reason
    return reason


def _seed(served: Any, account: str, reasons: list[str]) -> int:
    """A case on the account, and its ANOMALY alerts (oldest first) plus a rule's alert."""

    def work(session: Session) -> int:
        case = raise_alert(
            session,
            AlertIn(
                source=AlertSource.EMAIL,
                source_ref=f"ref-{account}",
                account_id=account,
                kind="email",
                title=f"Report about {account}",
            ),
        ).case
        now = utcnow()
        rows = [
            {
                "rule_id": rule_id,
                "rule_version": 1,
                "typology": "anomaly" if rule_id == RULE_ID else "fan_out",
                "event_id": f"{account}-e{i}",
                "row": 0,
                "account_id": account,
                "seq": i + 1,
                "action": DecisionOutcome.ALLOW if rule_id == RULE_ID else DecisionOutcome.REVIEW,
                "score": 0,
                "reason": reason,
                "shadow": False,
                "created_at": now - timedelta(minutes=len(reasons) + 1 - i),
            }
            for i, (rule_id, reason) in enumerate(
                [(RULE_ID, r) for r in reasons] + [("AML-001", "a rule's own reason")]
            )
        ]
        monitor_repo.insert_ignore(session, Alert, rows)
        return int(case.id)

    found: int = served.seed(work)
    return found


def test_the_case_shows_the_accounts_latest_anomaly_as_a_table(
    page: Any, served: Any, login: Callable[..., None], uid: Callable[[str], str]
) -> None:
    account = uid("anom")
    odd = [
        "",
        "<script>alert('x')</script> not an anomaly's shape",
        "anomaly 0.91: " + "x" * 5000,
        "anomaly 0.80: sent much; usually <b>1</b> (own baseline), peers 2 · ; · a; b",
    ]
    case_id = _seed(served, account, [*odd, fan_out_reason()])
    login(page, "ana")
    page.goto(f"/cases/{case_id}")
    panel = page.locator("#case-anomaly")
    panel.locator("#case-anomaly-table").wait_for()
    score = float(panel.locator("#case-anomaly-score").inner_text())
    assert 0.75 <= score < 1.0
    rows = panel.locator(".case-anomaly-deviation")
    assert rows.count() >= 2
    cells = [rows.nth(i).locator("td").all_inner_texts() for i in range(rows.count())]
    day = next(c for c in cells if c[0].endswith("distinct parties in the last 24 hours"))
    assert day[0].startswith("the account sent money to 1")  # 14 new, and the usual one
    assert day[1] in ("1", "2") and day[2] == "1"
    earlier = panel.locator("#case-anomaly-earlier li")
    assert earlier.count() == 4
    text = panel.inner_text()
    assert "sent much" in text and "x" * 200 not in text  # truncated
    assert "<script>" in text  # shown as text, never run (the page fixture fails on CSP)
    assert "a rule's own reason" not in text  # only the anomalies
    assert page.locator("#case-anomaly script").count() == 0


def test_older_anomalies_page_and_an_account_without_any_says_so(
    page: Any, served: Any, login: Callable[..., None], uid: Callable[[str], str]
) -> None:
    account = uid("anom")
    reasons = [
        f"anomaly 0.{80 + i}: the amount is ${i},000.00; usually $10 (own baseline), peers $20"
        for i in range(7)
    ]
    case_id = _seed(served, account, reasons)
    login(page, "sam")
    page.goto(f"/cases/{case_id}")
    panel = page.locator("#case-anomaly")
    panel.locator("#case-anomaly-table").wait_for()
    assert panel.locator("#case-anomaly-score").inner_text() == "0.86"  # the newest
    assert panel.locator("#case-anomaly-earlier li").count() == 4
    page.click("#case-anomaly-older")
    page.locator("#case-anomaly-newer").wait_for()
    assert page.locator("#case-anomaly-score").inner_text() == "0.81"
    assert page.locator("#case-anomaly-earlier li").count() == 1
    assert page.locator("#case-anomaly-older").count() == 0
    page.click("#case-anomaly-newer")
    page.locator("#case-anomaly-older").wait_for()
    assert page.locator("#case-anomaly-score").inner_text() == "0.86"

    quiet = uid("quiet") + "/sub account"  # ids may hold a slash and a space
    quiet_case = _seed(served, quiet, [])
    page.goto(f"/cases/{quiet_case}")
    empty = page.locator("#case-anomaly-empty")
    empty.wait_for()
    assert "No anomaly recorded for this account" in empty.inner_text()
    assert page.locator("#case-anomaly-table").count() == 0
    slashed = uid("slashed") + "/x"
    slashed_case = _seed(served, slashed, reasons[:1])
    page.goto(f"/cases/{slashed_case}")
    page.locator("#case-anomaly-table").wait_for()
    assert page.locator("#case-anomaly-score").inner_text() == "0.80"
