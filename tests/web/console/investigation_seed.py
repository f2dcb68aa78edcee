"""A small investigation, built by the real writers for the console's investigation tests.

``build(session_maker, prefix)`` ingests the events of four accounts, runs the monitor's
batch (it keeps the links graph, the profiles, the KYC reviews and the ratings), follows
the log with screening (a list of the test's own is loaded first) and delivers the alerts
into cases. Every id, name and value carries ``prefix``-derived parts, so tests sharing one
database do not see each other's accounts.

- ``a`` and ``b`` share an IP (public), a phone and an email (``b`` under another spelling);
  ``b`` and ``c`` share a device: ``c`` is two hops from ``a``; ``b`` is restricted.
- ``a``'s KYC name is on the list (a screening hit, a case in the screening queue) and its
  KYC submission is reviewed (a case in the kyc queue joins the account's case).
- ``d`` is a company (KYB) whose beneficial owner is on the list; it withdraws to the
  address ``a`` deposited from (another kind of use: not a link).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from riskops.accounts import rating
from riskops.accounts import service as accounts
from riskops.accounts import tasks as accounts_tasks
from riskops.accounts.models import RestrictionKind
from riskops.accounts.watch import AccountWatch
from riskops.auth.permissions import Principal
from riskops.cases.alert_intake import drain_outbox, ensure_default_queues
from riskops.events import schemas as s
from riskops.events.service import ingest
from riskops.intel.addresses import p2wpkh_address
from riskops.kernel.db import unit_of_work
from riskops.links import tasks as links_tasks
from riskops.links.keeper import LinkKeeper
from riskops.monitor import repository as monitor_repo
from riskops.monitor import service as monitor
from riskops.monitor.engine import Monitor
from riskops.rules.types import Evaluation
from riskops.screening import service as screening
from riskops.screening import tasks as screening_tasks

SYSTEM = Principal.system("tests")


class NoRules:
    """A rule set that raises nothing: the investigation needs the monitor's writers (links,
    profiles, reviews, ratings), not its rules."""

    def process(self, row: dict[str, Any]) -> Evaluation:
        return Evaluation([], [])


@dataclass(frozen=True)
class Seeded:
    prefix: str
    a: str
    b: str
    c: str
    d: str
    ip: str
    phone: str
    email: str
    device: str
    name: str  # a's KYC name (on the list)
    owner: str  # d's beneficial owner (on the list)
    list_name: str
    list_dir: Path
    address: str  # a deposit source of a, the withdrawal destination of d (valid bech32)


def _octets(prefix: str) -> tuple[int, int, int]:
    digest = hashlib.sha256(prefix.encode()).digest()
    return digest[0] % 200 + 20, digest[1] % 250 + 1, digest[2] % 250 + 1


def _letters(prefix: str, n: int) -> str:
    digest = hashlib.sha256(("name" + prefix).encode()).digest()
    return "".join(chr(ord("a") + b % 26) for b in digest[:n]).capitalize()


def _person(prefix: str) -> str:
    """A name of two random words: the tests share one database, where every loaded list
    is screened against every account, so a name must not come near another test's (two
    names "Viktor ...ovich" of six random letters once did, and the account got two hits)."""
    return f"{_letters(prefix + ':given', 7)} {_letters(prefix + ':family', 9)}"


def entry(entry_id: str, name: str, birth: str | None = None) -> dict[str, object]:
    """An OpenSanctions FollowTheMoney person."""
    props: dict[str, list[str]] = {"name": [name], "topics": ["sanction"]}
    if birth:
        props["birthDate"] = [birth]
    return {"id": entry_id, "schema": "Person", "properties": props, "datasets": ["test"]}


def write_list(folder: Path, entries: list[dict[str, object]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"list-{len(list(folder.iterdir()))}.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in entries), encoding="utf-8")
    return path


def process(sessions: sessionmaker[Session], now: datetime) -> None:
    """The links follower, the monitor over the log's tail, the accounts follower,
    screening's follower, the cases' delivery."""
    links_tasks.follow(sessions, LinkKeeper(), now=now)  # the graph the rating reads
    with unit_of_work(sessions) as session:
        done = monitor_repo.get_checkpoint(session, "default")
        records = monitor_repo.log_after(session, done, 10_000)
        if records:
            monitor.process_batch(session, Monitor(NoRules()), records, now=now)
    # the profiles, reviews and ratings: the accounts follower, behind the monitor
    accounts_tasks.follow(
        sessions, monitor.AccountFeed(), AccountWatch(links=rating.graph_links), now=now
    )
    screening_tasks.follow(sessions, cache=screening.ScreenerCache())
    with unit_of_work(sessions) as session:
        ensure_default_queues(session)
        while drain_outbox(session, now=now):
            pass


def build(sessions: sessionmaker[Session], prefix: str, list_dir: Path) -> Seeded:
    now = datetime.now(UTC)
    x, y, z = _octets(prefix)
    seeded = Seeded(
        prefix=prefix,
        a=f"{prefix}-a",
        b=f"{prefix}-b",
        c=f"{prefix}-c",
        d=f"{prefix}-d",
        ip=f"{x}.{y}.{z}.{x % 250 + 1}",
        phone=f"+4477009{y:03d}{z % 100:02d}",
        email=f"{prefix}.shared@example.com",
        device=f"dev-{prefix}",
        name=_person(prefix),
        owner=_person(prefix + ":owner"),
        list_name=f"list-{prefix}",
        list_dir=list_dir,
        address=p2wpkh_address(hashlib.sha256(("addr" + prefix).encode()).digest()[:20]),
    )
    path = write_list(
        list_dir,
        [
            entry(f"{prefix}-e1", seeded.name, "1960-05-01"),
            entry(f"{prefix}-e2", seeded.owner, "1971-03-02"),
        ],
    )
    t = now - timedelta(days=3)
    events: list[s.Event] = [
        s.AccountCreated(
            event_id=f"{prefix}-a-created",
            account_id=seeded.a,
            occurred_at=t,
            email=seeded.email,
            phone=seeded.phone,
            country="GB",
            ip=seeded.ip,
        ),
        s.KycSubmitted(
            event_id=f"{prefix}-a-kyc",
            account_id=seeded.a,
            occurred_at=t + timedelta(hours=1),
            level=2,
            document_type="passport",
            document_country="GB",
            full_name=seeded.name,
            date_of_birth=date(1960, 5, 1),
            nationality="GB",
        ),
        s.Deposit(
            event_id=f"{prefix}-a-deposit",
            account_id=seeded.a,
            occurred_at=t + timedelta(hours=5),
            asset="BTC",
            amount=Decimal("0.1"),
            usd_value=Decimal("6000.00"),
            rail=s.Rail.CRYPTO,
            source_address=seeded.address,
        ),
        s.WithdrawalRequested(
            event_id=f"{prefix}-d-withdrawal",
            account_id=seeded.d,
            occurred_at=t + timedelta(hours=6),
            asset="BTC",
            amount=Decimal("0.005"),
            usd_value=Decimal("300.00"),
            address=seeded.address,
        ),
        s.AccountCreated(
            event_id=f"{prefix}-b-created",
            account_id=seeded.b,
            occurred_at=t + timedelta(hours=2),
            email=seeded.email.upper(),
            phone=seeded.phone,
            country="GB",
            ip=seeded.ip,
            device_id=seeded.device,
        ),
        s.AccountCreated(
            event_id=f"{prefix}-c-created",
            account_id=seeded.c,
            occurred_at=t + timedelta(hours=3),
            email=f"{prefix}.c@example.net",
            country="FR",
            device_id=seeded.device,
        ),
        s.AccountCreated(
            event_id=f"{prefix}-d-created",
            account_id=seeded.d,
            occurred_at=t,
            email=f"{prefix}.d@example.org",
            country="GB",
            corporate=True,
        ),
        s.KybSubmitted(
            event_id=f"{prefix}-d-kyb",
            account_id=seeded.d,
            occurred_at=t + timedelta(hours=1),
            legal_name=f"{_letters(prefix + ':company', 8)} Trading Ltd",
            registration_number=f"R{x}{y}{z}",
            country="GB",
            beneficial_owners=[
                s.BeneficialOwner(
                    full_name=seeded.owner,
                    ownership_pct=60,
                    date_of_birth=date(1971, 3, 2),
                    nationality="GB",
                )
            ],
        ),
    ]
    with unit_of_work(sessions) as session:
        screening.load_list(session, SYSTEM, "ftm", [path], name=seeded.list_name, now=now)
        ingest(session, [(None, e) for e in events], source="api")
    process(sessions, now)
    with unit_of_work(sessions) as session:
        accounts.restrict(
            session, SYSTEM, seeded.b, RestrictionKind.WITHDRAWAL_LOCK, "mule check", now=now
        )
    return seeded


def reload_list(seeded: Seeded, sessions: sessionmaker[Session], extra: str) -> int:
    """A new version of the test's list (one more entry), every subject rescreened against
    it and the alerts delivered; returns how many subjects were screened again."""
    path = write_list(
        seeded.list_dir,
        [
            entry(f"{seeded.prefix}-e1", seeded.name, "1960-05-01"),
            entry(f"{seeded.prefix}-e2", seeded.owner, "1971-03-02"),
            entry(f"{seeded.prefix}-e3", extra),
        ],
    )
    now = datetime.now(UTC)
    with unit_of_work(sessions) as session:
        screening.load_list(session, SYSTEM, "ftm", [path], name=seeded.list_name, now=now)
    screened, after = 0, 0
    cache = screening.ScreenerCache()
    while True:
        with unit_of_work(sessions) as session:
            batch = screening.rescreen(session, cache=cache, after_id=after, now=now)
        if batch.screened == 0:
            break
        screened += batch.screened
        after = batch.last_id
    process(sessions, now)
    return screened
