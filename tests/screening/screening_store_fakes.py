"""Builders for the screening store tests: list files, events in the log, principals."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from riskops.auth.permissions import Principal, Role
from riskops.events import schemas as s
from riskops.events.service import ingest
from riskops.kernel.db import session_factory, unit_of_work
from riskops.screening import service
from riskops.screening.models import Hit

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
LOADER = Principal.for_user(1, "mgr", Role.MANAGER)
ANALYST = Principal.for_user(2, "ana", Role.ANALYST)


def person(
    entity_id: str,
    name: str,
    *,
    birth: str | None = None,
    country: str | None = None,
    aliases: Iterable[str] = (),
) -> dict[str, Any]:
    props: dict[str, Any] = {"name": [name], "alias": list(aliases), "topics": ["sanction"]}
    if birth:
        props["birthDate"] = [birth]
    if country:
        props["nationality"] = [country]
    return {"id": entity_id, "schema": "Person", "properties": props, "datasets": ["test"]}


def company(entity_id: str, name: str, *, country: str | None = None) -> dict[str, Any]:
    props: dict[str, Any] = {"name": [name], "topics": ["sanction"]}
    if country:
        props["jurisdiction"] = [country]
    return {"id": entity_id, "schema": "Company", "properties": props, "datasets": ["test"]}


PETROV = person("p-1", "Viktor Ivanovich Petrov", birth="1960-05-01", country="ru")
GLOBAL = company("c-1", "Global Trade Holdings LLC", country="ir")
NADIA = person("p-2", "Nadia Karimova", birth="1975-02-11", country="uz")


def ftm_file(path: Path, entities: Iterable[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in entities), encoding="utf-8")
    return path


def load(
    engine: Engine, path: Path, *, name: str = "test", by: Principal = LOADER
) -> service.LoadResult:
    with unit_of_work(session_factory(engine)) as session:
        return service.load_list(session, by, "ftm", [path], name=name, now=T0)


_n = 0


def _next_id(prefix: str) -> str:
    global _n
    _n += 1
    return f"{prefix}-{_n}"


def kyc(
    account: str,
    name: str,
    *,
    dob: date | None = None,
    nationality: str | None = None,
    kind: type[s.KycSubmitted] | type[s.KycDecided] = s.KycSubmitted,
) -> s.Event:
    fields: dict[str, Any] = {
        "event_id": _next_id("kyc"),
        "account_id": account,
        "occurred_at": T0,
        "level": 2,
        "full_name": name,
        "date_of_birth": dob,
        "nationality": nationality,
    }
    if kind is s.KycDecided:
        fields["result"] = s.KycResult.APPROVED
    return kind(**fields)


def p2p(account: str, counterparty: str, name: str) -> s.Event:
    return s.P2POrder(
        event_id=_next_id("p2p"),
        account_id=account,
        occurred_at=T0,
        asset="USDT",
        amount=Decimal("100"),
        usd_value=Decimal("100.00"),
        side=s.Side.BUY,
        counterparty_id=counterparty,
        counterparty_name=name,
    )


def log(engine: Engine, *events: s.Event) -> None:
    """Append events to the event log (as ingest does)."""
    with unit_of_work(session_factory(engine)) as session:
        report = ingest(session, [(None, e) for e in events], source="file")
    assert report.accepted == len(events), report


def hits(engine: Engine, account: str | None = None) -> list[Hit]:
    with session_factory(engine)() as session:
        stmt = select(Hit).order_by(Hit.id)
        if account is not None:
            stmt = stmt.where(Hit.account_id == account)
        return list(session.scalars(stmt))


def sessions_of(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)
