"""A small stored history for the workbench's tests: one rule with a live version and a
draft, deposits in the event log, the live version's recorded alerts, and cases decided on
some of them. Ids carry a prefix so tests (and the browser tests' shared server) never mix.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import msgspec
from sqlalchemy.orm import Session

from riskops.cases.alert_intake import ensure_default_queues
from riskops.cases.models import (
    AlertSource,
    Case,
    CaseAlert,
    CaseOutcome,
    CaseStatus,
)
from riskops.events.models import EventRecord
from riskops.monitor.models import Alert, DecisionOutcome
from riskops.rules import service as rules

# usd value of each deposit, and the outcome of the case its live alert went to (None: no
# alert, or no decided case).
AMOUNTS: list[tuple[int, CaseOutcome | None]] = [
    (2_000, None),
    (6_000, None),  # the draft (>= 5,000) adds it
    (7_000, CaseOutcome.RESTRICTED),  # flagged by another rule, restricted: a positive
    (12_000, CaseOutcome.RESTRICTED),  # live and draft: a true positive
    (15_000, CaseOutcome.DISMISSED),  # live and draft: a false positive
    (25_000, None),  # live and draft, not decided
]


@dataclass
class History:
    rule_id: str
    accounts: list[str]
    event_ids: list[str]


def rule_doc(rule_id: str, accounts: list[str], cents: int, version: int = 1) -> dict[str, object]:
    return {
        "id": rule_id,
        "version": version,
        "status": "draft",
        "name": f"Large deposit {rule_id}",
        "typology": "structuring",
        "when": ["deposit"],
        "if": {
            "all": [
                {"field": "account_id", "in": accounts},
                {"field": "usd_cents", "gte": cents},
            ]
        },
        "action": "review",
        "score": 40,
        "reason": "a large deposit",
    }


def seed_history(session: Session, prefix: str, now: datetime, *, shadow: bool = False) -> History:
    """``prefix``-RULE live at v1 (>= 10,000 USD), a v2 draft (>= 5,000 USD); six deposits
    over the last days; the live alerts (and, with ``shadow``, v2 in shadow with its own
    alerts on the 5,000-10,000 USD deposits) and their cases."""
    ensure_default_queues(session)
    rule_id = f"{prefix.upper()}-RULE"
    accounts = [f"{prefix}-acc-{i}" for i in range(len(AMOUNTS))]
    rules.save_drafts(session, [rule_doc(rule_id, accounts, 1_000_000)], "author")
    rules.promote(session, rule_id, 1, "live", "author", "seed")
    rules.save_drafts(session, [rule_doc(rule_id, accounts, 500_000)], "author")
    if shadow:
        rules.promote(session, rule_id, 2, "shadow", "author", "seed")
    event_ids: list[str] = []
    for i, (usd, outcome) in enumerate(AMOUNTS):
        at = now - timedelta(days=5 - i % 5, hours=i)
        event_id = f"{prefix}-ev-{i}"
        event_ids.append(event_id)
        payload = {
            "type": "deposit",
            "event_id": event_id,
            "account_id": accounts[i],
            "occurred_at": at.isoformat().replace("+00:00", "Z"),
            "asset": "USDT",
            "amount": f"{usd}.00",
            "usd_value": f"{usd}.00",
            "rail": "crypto",
        }
        record = EventRecord(
            event_id=event_id,
            type="deposit",
            account_id=accounts[i],
            occurred_at=at,
            received_at=at,
            source="api",
            source_name=None,
            source_row=None,
            payload=msgspec.json.encode(payload).decode(),
        )
        session.add(record)
        session.flush()
        hits = []
        if usd >= 10_000:
            hits.append((rule_id, 1, False))
        if usd == 7_000:
            hits.append((f"{prefix.upper()}-OTHER", 1, False))
        # One alert per rule, event and row is stored (monitor_alerts' unique key): where
        # the live version hit too, the shadow hit is not recorded.
        if shadow and 5_000 <= usd < 10_000:
            hits.append((rule_id, 2, True))
        for hit_rule, version, is_shadow in hits:
            alert = Alert(
                rule_id=hit_rule,
                rule_version=version,
                typology="structuring",
                event_id=event_id,
                row=0,
                account_id=accounts[i],
                seq=record.seq,
                action=DecisionOutcome.REVIEW,
                score=40,
                reason="a large deposit",
                shadow=is_shadow,
                created_at=at,
            )
            session.add(alert)
            session.flush()
            if outcome is None or is_shadow:
                continue
            case = Case(
                account_id=accounts[i],
                queue_key="aml",
                status=CaseStatus.CLOSED,
                title="large deposit",
                typology="structuring",
                severity=40,
                amount_at_risk_usd=Decimal(usd),
                priority=1,
                alert_count=1,
                opened_at=at,
                due_at=at + timedelta(days=1),
                updated_at=at,
                closed_at=at + timedelta(hours=2),
                outcome=outcome,
            )
            session.add(case)
            session.flush()
            session.add(
                CaseAlert(
                    source=AlertSource.MONITOR,
                    source_ref=str(alert.id),
                    case_id=case.id,
                    account_id=accounts[i],
                    kind=hit_rule,
                    typology="structuring",
                    severity=40,
                    amount_usd=Decimal(usd),
                    title="large deposit",
                    reason="a large deposit",
                    detail={"event_id": event_id, "row": 0},
                    occurred_at=at,
                    received_at=at,
                )
            )
    session.flush()
    return History(rule_id, accounts, event_ids)
