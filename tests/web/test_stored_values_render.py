"""Nothing the API accepts can later make a page or a query fail (issue 9, finding 3).

Hypothesis generates events at the edges of the bounds (ADR 0015): ids of 128 characters
in any script, text of the longest length, times at the window's ends, the largest amounts
and USD values, IPv6 addresses with scopes. Each batch is ingested over HTTP, decided by
the monitor (``MonitorRuntime.catch_up``), its case alerts delivered, and then the account
page, the case pages and the API reads are fetched: no 5xx, and the monitor decided every
event (its checkpoint reached the log's end, nothing quarantined).
"""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from riskops.cases import alert_intake
from riskops.events import repository
from riskops.kernel.bounds import BOUNDS
from riskops.kernel.config import Settings
from riskops.kernel.db import session_factory, unit_of_work
from riskops.web.app import create_app
from riskops.web.deps import Container
from support import api_login, bearer, make_user, token_for

with warnings.catch_warnings():  # starlette would rather have httpx2, which is not installed
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

# Printable characters of any script, no separators, no "/" (a path segment) nor "%".
visible = st.characters(
    codec="utf-8",
    exclude_categories=("Cc", "Cs", "Cf", "Co", "Cn", "Zl", "Zp", "Zs"),
    exclude_characters="/%",
)
ids = st.text(visible, min_size=1, max_size=BOUNDS.max_identifier_length - 9)
texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), max_size=256)
shorts = texts.filter(bool)
agents = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), max_size=1024)
ips = st.sampled_from(
    [
        *("0.0.0.0", "255.255.255.255", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
        *("fe80::1%eth0", "::ffff:192.0.2.1", "2001:db8::1"),
    ]
)
cents = st.integers(0, int(BOUNDS.max_usd_value * 100)).map(lambda c: f"{c // 100}.{c % 100:02d}")
places = BOUNDS.amount_decimal_places
amounts = st.integers(1, int(BOUNDS.max_amount * 10**places)).map(
    lambda units: _scaled(units, places)
)


def _scaled(units: int, places: int) -> str:
    whole, fraction = divmod(units, 10**places)
    return f"{whole}.{fraction:0{places}d}" if places else str(whole)


def _moments() -> st.SearchStrategy[str]:
    now = datetime.now(UTC)
    edges = [BOUNDS.min_event_time, now - timedelta(days=1), now + BOUNDS.max_clock_skew / 2]
    return st.sampled_from([moment.isoformat() for moment in edges])


@st.composite
def batches(draw: st.DrawFn) -> tuple[str, list[dict[str, Any]]]:
    """An account (its id at the edges) and a few events of it at the edges."""
    account = f"{uuid.uuid4().hex[:8]}{draw(ids)}"
    counterparty = f"{uuid.uuid4().hex[:8]}{draw(ids)}"
    times = _moments()
    common = lambda: {"account_id": account, "occurred_at": draw(times)}  # noqa: E731
    money = lambda: {"asset": "BTC", "amount": draw(amounts), "usd_value": draw(cents)}  # noqa: E731
    events: list[dict[str, Any]] = [
        {"type": "account.created", **common(), "email": draw(shorts), "ip": draw(ips)},
        {"type": "login", **common(), "success": True, "ip": draw(ips), "user_agent": draw(agents)},
        {
            "type": "kyc.submitted",
            **common(),
            "level": 3,
            "full_name": draw(shorts),
            "date_of_birth": draw(
                st.sampled_from(["1900-01-01", datetime.now(UTC).date().isoformat()])
            ),
        },
        {"type": "deposit", **common(), **money(), "rail": "crypto", "tx_hash": draw(shorts)},
        {
            "type": "withdrawal.requested",
            **common(),
            **money(),
            "address": draw(shorts),
            "ip": draw(ips),
            "withdrawal_id": draw(ids),
        },
        {"type": "transfer.internal", **common(), **money(), "counterparty_id": counterparty},
        {
            "type": "trade",
            **common(),
            **money(),
            "side": "sell",
            "quote_asset": "USDT",
            "price": draw(amounts),
        },
    ]
    # A takeover (ATO-001): a password reset from a device never seen before, then a
    # withdrawal from it to a new address a minute later, $200 or more: held, so a case
    # opens for the account.
    reset = datetime.now(UTC) - timedelta(hours=2)
    device = f"dev-{uuid.uuid4().hex[:12]}"
    events += [
        {
            "type": "security.change",
            "account_id": account,
            "occurred_at": reset.isoformat(),
            "change": "password_reset",
            "ip": draw(ips),
            "device_id": device,
        },
        {
            "type": "withdrawal.requested",
            "account_id": account,
            "occurred_at": (reset + timedelta(minutes=1)).isoformat(),
            "asset": "BTC",
            "amount": draw(amounts),
            "usd_value": draw(cents.filter(lambda c: float(c) >= 200)),
            "address": draw(shorts),
            "device_id": device,
        },
    ]
    for event in events:
        event["event_id"] = f"{uuid.uuid4().hex[:8]}{draw(ids)}"
    return account, events


@pytest.fixture
def served(engine: Engine, tmp_path: Path) -> Iterator[tuple[TestClient, TestClient, Container]]:
    """A console user logged in (pages and API reads), an ingesting token, and the app's
    container (its monitor runtime)."""
    with unit_of_work(session_factory(engine)) as session:
        make_user(session, "boss", "admin")
        alert_intake.ensure_default_queues(session)
    box = Container(Settings(data_dir=tmp_path), engine)
    app = create_app(box, start_background=False)
    with TestClient(app, raise_server_exceptions=False) as reader, TestClient(app) as writer:
        api_login(reader, "boss", sticky=True)
        writer.headers.update(bearer(token_for(engine, ["event:ingest"])))
        yield reader, writer, box


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=batches())
def test_events_at_the_edges_render_everywhere(
    served: tuple[TestClient, TestClient, Container], batch: tuple[str, list[dict[str, Any]]]
) -> None:
    reader, writer, box = served
    account, events = batch
    ingested = writer.post("/v1/events", json=events)
    assert ingested.status_code == 202, ingested.text
    assert ingested.json()["rejected"] == [], "a value inside the bounds was refused"

    box.runtime.catch_up()
    with unit_of_work(box.sessions) as session:
        while alert_intake.drain_outbox(session):
            pass
        assert box.runtime.checkpoint() == repository.last_seq(session)  # every event decided
        _, quarantined = repository.list_dead_letters(session, limit=1, source="monitor")
        assert quarantined == 0

    quoted = quote(account, safe="")
    page = reader.get(f"/accounts/{quoted}")
    assert page.status_code == 200, page.text[:500]
    cases = reader.get("/v1/cases", params={"account_id": account})
    assert cases.status_code == 200, cases.text[:500]
    reads = [
        f"/accounts/{quoted}/timeline",
        f"/v1/accounts/{quoted}/restrictions",
        f"/v1/decisions?account_id={quoted}",
        "/v1/alerts",
        "/v1/holds",
        "/v1/queues",
        "/holds",
        "/",
    ]
    assert cases.json(), "the held withdrawal opened no case"
    for case in cases.json():
        reads += [f"/cases/{case['id']}", f"/v1/cases/{case['id']}"]
    for url in reads:
        response = reader.get(url)
        assert response.status_code < 500, f"{url}: {response.status_code} {response.text[:300]}"
