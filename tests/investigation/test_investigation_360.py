"""The account 360 (``investigation.service.account_360``), over the API
(``GET /v1/accounts/{id}``) and the CLI (``riskops accounts show ID --json``): profile,
rating with its reasons, restrictions, flows, holds, cases, alerts, linked accounts with
their standing, screening hits and intel on the values the account used; an unknown
account is a 404, a read is audited.

The state is built by the real writers: events ingested and decided by the monitor (which
keeps the links graph and the timeline), a sanctions list loaded and the log followed by
screening, a restriction through ``accounts.service``, the rating recomputed.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import typer
from fastapi import FastAPI
from monitor_fakes import FakeEvaluator
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from riskops.accounts import rating
from riskops.accounts import service as accounts
from riskops.accounts.models import RestrictionKind
from riskops.accounts.watch import AccountWatch
from riskops.audit.models import AuditEntry
from riskops.auth.permissions import Principal, Role
from riskops.events import schemas as s
from riskops.events.service import ingest
from riskops.investigation import cli
from riskops.investigation.service import INTEL_KINDS, account_360
from riskops.kernel.config import Settings, get_settings
from riskops.kernel.db import open_database, session_factory, unit_of_work
from riskops.kernel.errors import Forbidden, NotFound, ValidationFailed
from riskops.links import tasks as links_tasks
from riskops.links.keeper import LinkKeeper
from riskops.monitor import repository as monitor_repo
from riskops.monitor import service as monitor
from riskops.monitor.engine import Monitor
from riskops.screening import service as screening
from riskops.screening import tasks as screening_tasks
from riskops.web.app import create_app
from riskops.web.deps import Container
from support import api_login, make_user

with warnings.catch_warnings():  # starlette would rather have httpx2, which is not installed
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
ANALYST = Principal.for_user(1, "ana", Role.ANALYST)
MANAGER = Principal.for_user(2, "mgr", Role.MANAGER)
PETROV = {
    "id": "p-1",
    "schema": "Person",
    "properties": {
        "name": ["Viktor Ivanovich Petrov"],
        "birthDate": ["1960-05-01"],
        "nationality": ["ru"],
        "topics": ["sanction"],
    },
    "datasets": ["test"],
}
PUBLIC_IP = "8.8.8.8"  # a public address: the shipped IP data knows it


def _events() -> list[s.Event]:
    """acc-1 and acc-2 share a device and a phone; acc-3 is alone; acc-1's KYC name is on
    the list."""
    t = NOW - timedelta(days=10)
    return [
        s.AccountCreated(
            event_id="acc-1-created",
            account_id="acc-1",
            occurred_at=t,
            email="Ana.Example+promo@example.com",
            phone="+447700900123",
            country="GB",
            ip=PUBLIC_IP,
            device_id="dev-shared",
        ),
        s.KycSubmitted(
            event_id="acc-1-kyc",
            account_id="acc-1",
            occurred_at=t + timedelta(hours=1),
            level=2,
            full_name="Viktor Petrov",
            date_of_birth=date(1960, 5, 1),
            nationality="RU",
        ),
        s.Deposit(
            event_id="acc-1-dep",
            account_id="acc-1",
            occurred_at=NOW - timedelta(days=2),
            asset="BTC",
            amount=Decimal("0.1"),
            usd_value=Decimal("6000.00"),
            rail=s.Rail.CRYPTO,
            source_address="bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
        ),
        s.AccountCreated(
            event_id="acc-2-created",
            account_id="acc-2",
            occurred_at=t + timedelta(hours=2),
            email="bob@example.org",
            phone="+447700900123",
            country="GB",
            device_id="dev-shared",
        ),
        s.AccountCreated(
            event_id="acc-3-created",
            account_id="acc-3",
            occurred_at=t,
            email="carol@example.net",
            country="FR",
        ),
    ]


def _build(engine: Engine, tmp_path: Path) -> None:
    sessions = session_factory(engine)
    listed = tmp_path / "list.jsonl"
    listed.write_text(json.dumps(PETROV) + "\n", encoding="utf-8")
    with unit_of_work(sessions) as session:
        screening.load_list(session, MANAGER, "ftm", [listed], name="test", now=NOW)
        ingest(session, [(None, e) for e in _events()], source="api")
    links_tasks.follow(sessions, LinkKeeper(), now=NOW)  # the graph the rating reads
    with unit_of_work(sessions) as session:
        records = monitor_repo.log_after(session, 0, 100)
        monitor.process_batch(session, Monitor(FakeEvaluator()), records, now=NOW)
    screening_tasks.follow(sessions, cache=screening.ScreenerCache())
    with unit_of_work(sessions) as session:
        # the profiles the rating keeps (what the accounts' follower of the log does)
        watch = AccountWatch(links=rating.graph_links)
        for record, event in zip(records, _events(), strict=True):
            watch.add(event, record.seq)
        watch.flush(session, now=NOW)
        accounts.restrict(
            session, ANALYST, "acc-2", RestrictionKind.WITHDRAWAL_LOCK, "mule check", now=NOW
        )
        rating.recompute_many(
            session, ["acc-1", "acc-2"], trigger="test", now=NOW, links=rating.graph_links
        )


@pytest.fixture
def built(engine: Engine, tmp_path: Path) -> Engine:
    _build(engine, tmp_path)
    return engine


class RecordingIntel:
    """Stands in for ``intel.describe``: remembers what it was asked, answers plainly."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str | None]] = []

    def __call__(self, value: str, *, kind: str | None = None) -> dict[str, Any]:
        self.asked.append((value, kind))
        return {"kind": kind, "value": value, "sources": [{"name": "test"}]}


def _audit(session: Session, action: str) -> list[AuditEntry]:
    stmt = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
    return list(session.scalars(stmt))


def test_the_360_gathers_every_section_from_the_domains_below(built: Engine) -> None:
    intel = RecordingIntel()
    with unit_of_work(session_factory(built)) as session:
        found = account_360(session, ANALYST, "acc-1", now=NOW, describe=intel)
    assert found.sections == [
        "profile",
        "rating",
        "restrictions",
        "flows",
        "holds",
        "cases",
        "alerts",
        "links",
        "screening",
        "intel",
    ]
    p = found.profile
    assert (p.country, p.phone, p.full_name, p.kyc_result) == (
        "GB",
        "+447700900123",
        "Viktor Petrov",
        "submitted",
    )
    assert (p.birth_date, p.nationality, p.signup_ip) == (date(1960, 5, 1), "RU", PUBLIC_IP)
    assert (found.deposits_30d.count, found.deposits_30d.usd) == (1, Decimal("6000.00"))
    # the rating, with its reasons: the open hit and the restricted linked account weigh
    assert found.rating is not None and found.rating.computed_at == NOW
    codes = {r.code for r in found.rating.reasons}
    assert {"SCREENING_OPEN", "LINKED_RESTRICTED"} <= codes, codes
    assert found.rating.band in ("low", "medium", "high", "prohibited")
    # links: acc-2 through the device and the phone, with its restriction and band
    assert found.links is not None and found.links.linked == 1
    [other] = found.links.accounts
    assert other.account_id == "acc-2" and other.hop == 1
    assert {sh.kind for sh in other.shared} == {"device", "phone"}
    assert other.restrictions == ["withdrawal_lock"] and other.rating_band is not None
    # screening: the KYC name matched the listed entry, open
    assert found.screening is not None
    assert (found.screening.open, found.screening.confirmed) == (1, 0)
    assert [(h.entry_id, h.status) for h in found.screening.hits] == [("p-1", "open")]
    # intel: each IP, phone, email and address the account used, with the kind it is
    asked = {(kind, value) for value, kind in intel.asked}
    assert ("ip", PUBLIC_IP) in asked and ("phone", "+447700900123") in asked
    assert ("address", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq") in asked
    assert any(kind == "email" for kind, _ in asked)
    assert {i.used_as for i in found.intel} <= set(INTEL_KINDS)
    assert all(i.intel["sources"] for i in found.intel)
    assert "device" not in {i.used_as for i in found.intel}  # no intel on a device id


def test_an_account_known_only_by_a_restriction_has_empty_sections(built: Engine) -> None:
    """No events: no rating, no links, no hits, no intel; the restriction alone makes it
    known, so it is a 360, not a 404."""
    with unit_of_work(session_factory(built)) as session:
        accounts.restrict(session, ANALYST, "acc-9", RestrictionKind.TRADING_LOCK, "LE request")
        found = account_360(session, ANALYST, "acc-9", describe=RecordingIntel())
    assert found.rating is None and found.intel == []
    assert found.links is not None and found.links.linked == 0 and found.links.accounts == []
    assert found.screening is not None and found.screening.hits == []
    assert [r.kind for r in found.restrictions] == ["trading_lock"]
    assert found.profile.country is None and found.open_case is None


def test_unknown_and_invalid_accounts_are_refused(built: Engine) -> None:
    with unit_of_work(session_factory(built)) as session:
        with pytest.raises(NotFound, match="acc-404 is not known"):
            account_360(session, ANALYST, "acc-404", describe=RecordingIntel())
        for bad in ("", " acc-1", "acc\x00", "a" * 10_000):
            with pytest.raises(ValidationFailed):
                account_360(session, ANALYST, bad, describe=RecordingIntel())
        nobody = Principal.for_user(9, "x", Role.ANALYST)
        object.__setattr__(nobody, "permissions", frozenset())
        with pytest.raises(Forbidden):
            account_360(session, nobody, "acc-1", describe=RecordingIntel())
        assert _audit(session, "account.view") == []  # a refusal shows nothing


def test_a_360_is_audited_as_a_view_and_its_parts_as_their_reads(built: Engine) -> None:
    with unit_of_work(session_factory(built)) as session:
        account_360(session, ANALYST, "acc-1", now=NOW, describe=RecordingIntel())
    with unit_of_work(session_factory(built)) as session:
        [view] = _audit(session, "account.view")
        assert (view.actor, view.subject_type, view.subject_id) == ("ana", "account", "acc-1")
        assert view.detail["sections"][-3:] == ["links", "screening", "intel"]
        assert view.detail["intel_values"] >= 4
        linked = _audit(session, "links.linked")
        assert [(e.subject_id, e.actor) for e in linked] == [("acc-2", "ana")]
        hits = _audit(session, "screening_hit.list")
        assert [e.subject_id for e in hits] == ["acc-1"]


# --- over HTTP ------------------------------------------------------------------------


@pytest.fixture
def app(built: Engine, tmp_path: Path) -> Iterator[FastAPI]:
    with unit_of_work(session_factory(built)) as session:
        make_user(session, "ana", Role.ANALYST)
    served = create_app(Container(Settings(data_dir=tmp_path), built), start_background=False)
    with TestClient(served):
        yield served


def test_get_account_answers_the_360_with_real_intel(app: FastAPI) -> None:
    client = TestClient(app)
    assert client.get("/v1/accounts/acc-1").status_code == 401
    api_login(client, "ana", sticky=True)
    answer = client.get("/v1/accounts/acc-1")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["account_id"] == "acc-1" and body["profile"]["country"] == "GB"
    assert body["rating"]["band"] in ("low", "medium", "high", "prohibited")
    assert body["links"]["accounts"][0]["account_id"] == "acc-2"
    assert body["screening"]["hits"][0]["entry_id"] == "p-1"
    by_value = {i["value"]: i["intel"] for i in body["intel"]}
    assert by_value[PUBLIC_IP]["kind"] == "ip" and by_value[PUBLIC_IP]["scope"] == "public"
    assert by_value["+447700900123"]["kind"] == "phone"
    assert by_value["bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"]["valid"] is True
    missing = client.get("/v1/accounts/acc-404")
    assert missing.status_code == 404
    assert "acc-404 is not known" in missing.json()["message"]
    bad = client.get("/v1/accounts/%20acc-1")
    assert bad.status_code == 422 and bad.json()["details"][0]["field"] == "account_id"


def test_the_openapi_document_describes_the_360(app: FastAPI) -> None:
    operation = TestClient(app).get("/openapi.json").json()["paths"]["/v1/accounts/{account_id}"]
    answers = operation["get"]["responses"]
    assert {"200", "404", "422"} <= set(answers)
    assert "application/json" in answers["200"]["content"]


# --- on the command line --------------------------------------------------------------


@pytest.fixture
def riskops(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[typer.Typer]:
    monkeypatch.setenv("RISKOPS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("RISKOPS_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    engine = open_database()
    try:
        _build(engine, tmp_path)
    finally:
        engine.dispose()
    app = typer.Typer()
    cli.register(app)
    app.command("version")(lambda: None)  # a second command keeps the groups as subcommands
    yield app
    get_settings.cache_clear()


def test_accounts_show_prints_the_360_as_json_and_as_text(riskops: typer.Typer) -> None:
    runner = CliRunner()
    shown = runner.invoke(riskops, ["accounts", "show", "acc-1", "--json"])
    assert shown.exit_code == 0, shown.output
    body = json.loads(shown.stdout)
    assert body["account_id"] == "acc-1" and body["links"]["linked"] == 1
    assert body["screening"]["open"] == 1 and body["rating"]["reasons"]
    text = runner.invoke(riskops, ["accounts", "show", "acc-1"])
    assert text.exit_code == 0, text.output
    assert "rating " in text.output and "acc-2 via device, phone (withdrawal_lock)" in text.output
    missing = runner.invoke(riskops, ["accounts", "show", "acc-404", "--json"])
    assert missing.exit_code == 1 and "acc-404 is not known" in missing.output
