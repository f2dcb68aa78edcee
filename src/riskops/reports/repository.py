"""Read-only queries for reports (all SQL of the reports package lives here)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from riskops.monitor.models import Alert
from riskops.reports.detection import AlertRef


def alert_refs(session: Session) -> list[AlertRef]:
    """Every alert, reduced to what detection scoring needs."""
    rows = session.execute(
        select(Alert.rule_id, Alert.typology, Alert.event_id, Alert.account_id, Alert.shadow)
    )
    return [AlertRef(*row) for row in rows]
