"""Poison events for the quarantine tests: each kind of event the monitor cannot decide,
written straight into the log (so the tests do not depend on what the edge refuses)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
from monitor_fakes import FakeEvaluator, deposit, withdrawal
from sqlalchemy import delete, select, text
from sqlalchemy.engine import Engine

from riskops.events import schemas as s
from riskops.events.models import DeadLetter, Source
from riskops.events.repository import insert_events, stored_time
from riskops.kernel.clock import utcnow
from riskops.kernel.db import Base, session_factory, unit_of_work
from riskops.rules.types import Action, Evaluation, Hit

BOOM_ACCOUNT = "acc-boom"  # the database refuses decisions of this account (a trigger)


class PoisonEvaluator(FakeEvaluator):
    """``FakeEvaluator``, plus two bugs a rule set can have: a withdrawal to ``explode``
    raises after the evaluator has counted it (state changed before the failure), and one
    to ``sev`` hits with a score of 150, which the case intake refuses. ``fixed`` turns
    both bugs off (a fix deployed before a replay)."""

    fixed = False

    def process(self, row: dict[str, Any]) -> Evaluation:
        evaluation = super().process(row)
        address = row.get("address")
        if address == "explode" and not self.fixed:
            raise RuntimeError("evaluator bug")
        if address == "sev" and not self.fixed:
            hit = Hit("SEV-1", 1, Action.REVIEW, 150, "score out of range", "mule")
            return Evaluation([*evaluation.hits, hit], evaluation.errors)
        return evaluation


class PoisonFactory:
    fingerprint = "poison-1"

    def new(self) -> PoisonEvaluator:
        return PoisonEvaluator()

    def restore(self, blob: bytes) -> PoisonEvaluator:
        return PoisonEvaluator(msgspec.json.decode(blob, type=dict[str, int]))


def _blank_account(event_id: str) -> str:
    obj = msgspec.json.decode(msgspec.json.encode(withdrawal(event_id, "acc-x", "20000.00")))
    obj["account_id"] = "   "
    return msgspec.json.encode(obj).decode()


def _encoded(event: s.Event) -> str:
    return msgspec.json.encode(event).decode()


# kind -> payload of a poison event with this id
POISONS: dict[str, Callable[[str], str]] = {
    "not_json": lambda event_id: "{" + event_id,
    "unknown_type": lambda event_id: f'{{"type": "nope", "event_id": "{event_id}"}}',
    "missing_fields": lambda event_id: (
        f'{{"type": "withdrawal.requested", "event_id": "{event_id}", "account_id": "a"}}'
    ),
    "blank_account": _blank_account,
    "evaluator_raises": lambda event_id: _encoded(
        withdrawal(event_id, "acc-p", "50.00", address="explode")
    ),
    "alert_refused": lambda event_id: _encoded(
        withdrawal(event_id, "acc-p", "50.00", address="sev")
    ),
    "write_refused": lambda event_id: _encoded(withdrawal(event_id, BOOM_ACCOUNT, "50.00")),
}


def append(engine: Engine, items: list[tuple[str, str]]) -> list[int]:
    """Append ``(event_id, payload)`` to the log as they are; returns their seqs."""
    rows: list[Any] = []
    for event_id, payload in items:
        rows += (event_id, "withdrawal.requested", "acc", stored_time(utcnow()), None, payload)
    with unit_of_work(session_factory(engine)) as session:
        stored = insert_events(session, rows, received_at=utcnow(), source="file", source_name=None)
    assert stored.count == len(items)
    return list(range(stored.first_seq, stored.last_seq + 1))


def good(n: int, prefix: str) -> list[s.Event]:
    """Good events of a few accounts: deposits, small and big withdrawals."""
    events: list[s.Event] = []
    for i in range(n):
        account = f"acc-{i % 4}"
        if i % 3 == 0:
            events.append(deposit(f"{prefix}d{i}", account, "5000.00", minutes=i))
        else:
            usd = "20000.00" if i % 5 == 0 else "50.00"
            events.append(withdrawal(f"{prefix}w{i}", account, usd, minutes=i))
    return events


def refuse_decisions_of(engine: Engine, account_id: str = BOOM_ACCOUNT) -> None:
    """A trigger that makes the database refuse the decisions of one account: a write that
    fails for what an event holds, on either database. Idempotent."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(
                text(
                    "CREATE OR REPLACE FUNCTION refuse_decision() RETURNS trigger AS $$ BEGIN "
                    f"IF NEW.account_id = '{account_id}' THEN "
                    "RAISE EXCEPTION 'decision refused'; END IF; RETURN NEW; END $$ "
                    "LANGUAGE plpgsql"
                )
            )
            conn.execute(text("DROP TRIGGER IF EXISTS refuse_decision ON monitor_decisions"))
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_decision BEFORE INSERT ON monitor_decisions "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_decision()"
                )
            )
        else:
            conn.execute(text("DROP TRIGGER IF EXISTS refuse_decision"))
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_decision BEFORE INSERT ON monitor_decisions "
                    f"WHEN NEW.account_id = '{account_id}' "
                    "BEGIN SELECT RAISE(ABORT, 'decision refused'); END"
                )
            )


def wipe(engine: Engine) -> None:
    """Empty every table but the audit trail (append-only): a fresh log for an example."""
    with unit_of_work(session_factory(engine)) as session:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name not in ("audit_log", "alembic_version"):
                session.execute(delete(table))


def quarantined(engine: Engine) -> list[int]:
    """Log positions of the monitor's dead letters, in order (duplicates kept)."""
    with session_factory(engine)() as session:
        stmt = select(DeadLetter.source_row).where(DeadLetter.source == Source.MONITOR.value)
        return sorted(int(seq) for seq in session.scalars(stmt))
