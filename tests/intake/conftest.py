"""Fixtures of the intake tests: a small event log to link to, sessions, the app."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from intake_support import BTC_TX, FIXTURES, SMS_SECRET, TX_HASH
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from riskops.events.service import ingest
from riskops.events.validation import Rejection, from_obj
from riskops.kernel.config import Settings
from riskops.kernel.db import session_factory, unit_of_work
from riskops.monitor.models import Hold, HoldStatus

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient


def _event(i: int, kind: str, account_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "event_id": f"seed-{i}",
        "account_id": account_id,
        "occurred_at": f"2025-02-0{1 + i % 9}T10:00:00Z",
        **fields,
    }


SEED_EVENTS = [
    # acc-0000101: Alice, linked by her sign-up email and phone.
    _event(
        1,
        "account.created",
        "acc-0000101",
        email="alice.smith@example.com",
        phone="+447700900101",
        country="GB",
    ),
    # acc-0000102: deposits with an ethereum-style and a bitcoin-style tx hash.
    _event(2, "account.created", "acc-0000102", email="bob@example.org", phone="+33612345678"),
    _event(
        3,
        "deposit",
        "acc-0000102",
        asset="ETH",
        amount="2.5",
        usd_value="8000.00",
        rail="crypto",
        chain="ethereum",
        tx_hash=TX_HASH,
    ),
    _event(
        4,
        "deposit",
        "acc-0000102",
        asset="BTC",
        amount="0.1",
        usd_value="6000.00",
        rail="crypto",
        chain="bitcoin",
        tx_hash=BTC_TX,
    ),
    # acc-0000103: a withdrawal request with its id.
    _event(
        5,
        "withdrawal.requested",
        "acc-0000103",
        asset="USDT",
        amount="5000",
        usd_value="5000.00",
        chain="tron",
        address="TXyz",
        withdrawal_id="wd-000000777",
    ),
    # acc-0000104: known only by its id.
    _event(6, "login", "acc-0000104", success=True, ip="203.0.113.9"),
    # acc-0000105: changed email and phone after sign-up.
    _event(7, "account.created", "acc-0000105", email="carol@example.net", phone="+15550000000"),
    _event(
        8,
        "security.change",
        "acc-0000105",
        change="email_changed",
        new_value="carol.new@example.net",
    ),
    _event(9, "security.change", "acc-0000105", change="phone_changed", new_value="+15550001234"),
    # acc-0000106 and acc-0000107 share a phone (multi-accounting).
    _event(10, "account.created", "acc-0000106", phone="+4915112345678"),
    _event(11, "account.created", "acc-0000107", phone="+4915112345678"),
]


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


@pytest.fixture
def seeded(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """The test database with ``SEED_EVENTS`` in the log and one held withdrawal."""
    results = [from_obj(e) for e in SEED_EVENTS]
    assert not any(isinstance(r, Rejection) for r in results), results
    with unit_of_work(sessions) as session:
        report = ingest(session, [(None, r) for r in results], source="file")
        assert report.accepted == len(SEED_EVENTS)
        session.add(
            Hold(
                event_id="seed-hold",
                account_id="acc-0000108",
                withdrawal_id="wd-000000888",
                asset="BTC",
                amount=Decimal("1.5"),
                usd_value=Decimal("90000.00"),
                status=HoldStatus.HELD,
                reasons=[],
                created_at=datetime(2025, 3, 1, tzinfo=UTC),
            )
        )
    return sessions


@pytest.fixture
def fixture_bytes() -> Callable[[str], bytes]:
    return lambda name: (FIXTURES / name).read_bytes()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, sms_hmac_secret=SMS_SECRET)


@pytest.fixture
def client(
    engine: Engine, seeded: sessionmaker[Session], settings: Settings
) -> Iterator[TestClient]:
    """The real app around the seeded test database, background work off."""
    from riskops.web.app import create_app
    from riskops.web.deps import Container

    app = create_app(Container(settings, engine), start_background=False)
    with TestClient(app) as test_client:
        yield test_client
