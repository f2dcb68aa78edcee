"""All SQL of the rules package. Functions take a Session and never commit."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from riskops.rules.models import RuleEvent, RuleVersion


def latest_version(session: Session, rule_id: str) -> RuleVersion | None:
    stmt = (
        select(RuleVersion)
        .where(RuleVersion.rule_id == rule_id)
        .order_by(RuleVersion.version.desc())
        .limit(1)
    )
    return session.scalars(stmt).first()


def get_version(session: Session, rule_id: str, version: int) -> RuleVersion | None:
    stmt = select(RuleVersion).where(RuleVersion.rule_id == rule_id, RuleVersion.version == version)
    return session.scalars(stmt).first()


def list_versions(session: Session, rule_id: str | None = None) -> list[RuleVersion]:
    stmt = select(RuleVersion).order_by(RuleVersion.rule_id, RuleVersion.version)
    if rule_id is not None:
        stmt = stmt.where(RuleVersion.rule_id == rule_id)
    return list(session.scalars(stmt))


def with_status(
    session: Session, statuses: Iterable[str], rule_id: str | None = None
) -> list[RuleVersion]:
    stmt = (
        select(RuleVersion)
        .where(RuleVersion.status.in_(list(statuses)))
        .order_by(RuleVersion.rule_id, RuleVersion.version)
    )
    if rule_id is not None:
        stmt = stmt.where(RuleVersion.rule_id == rule_id)
    return list(session.scalars(stmt))


def count_versions(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(RuleVersion)) or 0)


def add_version(session: Session, row: RuleVersion) -> RuleVersion:
    session.add(row)
    session.flush()
    return row


def add_event(session: Session, event: RuleEvent) -> None:
    session.add(event)
    session.flush()


def list_events(session: Session, rule_id: str) -> list[RuleEvent]:
    stmt = select(RuleEvent).where(RuleEvent.rule_id == rule_id).order_by(RuleEvent.id)
    return list(session.scalars(stmt))
