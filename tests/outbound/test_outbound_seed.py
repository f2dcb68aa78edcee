"""The demo's outbox: messages of its cases, delivered into the local mailbox by a pass,
and the demo exchange's webhook subscribed; seeding twice adds nothing."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from riskops.kernel.db import session_factory, unit_of_work
from riskops.outbound import webhooks
from riskops.outbound.models import OutboundMessage
from riskops.outbound.seed import seed
from riskops.outbound.tasks import Deliverer
from riskops.outbound.transports import TransportSettings, from_settings

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_seed_then_deliver_into_the_local_mailbox(sqlite_engine: Engine, tmp_path: Path) -> None:
    sessions = session_factory(sqlite_engine)
    cases = [(1, "acc-1"), (2, "acc/2"), (3, "acc-3")]
    for _ in range(2):
        with unit_of_work(sessions) as s:
            summary = seed(s, NOW, random.Random(3), cases=cases)
    assert (summary.emails, summary.sms) == (3, 2) and summary.subscription_id
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(OutboundMessage)) == 5
    transports = from_settings(TransportSettings(data_dir=tmp_path))
    assert Deliverer(sessions, transports).run_pass(now=NOW).sent == 5
    assert len(list((tmp_path / "outbox" / "mail").glob("*.eml"))) == 3
    assert len(list((tmp_path / "outbox" / "sms").glob("*.txt"))) == 2
    webhooks.invalidate()
