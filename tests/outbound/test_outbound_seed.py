"""The demo's outbox: the demo exchange's webhook subscribed, once however often it is
seeded; its customer messages are contact's (through the guard), none are outbound's."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from riskops.kernel.db import session_factory, unit_of_work
from riskops.outbound import repository, webhooks
from riskops.outbound.models import OutboundMessage
from riskops.outbound.seed import DEMO_HOOK_URL, seed

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_seed_subscribes_the_demo_exchange_once(sqlite_engine: Engine) -> None:
    sessions = session_factory(sqlite_engine)
    found = []
    for _ in range(2):
        with unit_of_work(sessions) as s:
            found.append(seed(s, NOW, random.Random(3)).subscription_id)
    assert found[0] is not None and found == [found[0]] * 2
    with sessions() as s:
        assert [sub.url for sub in repository.subscriptions(s)] == [DEMO_HOOK_URL]
        assert s.scalar(select(func.count()).select_from(OutboundMessage)) == 0
    with unit_of_work(sessions) as s:
        assert seed(s, NOW, random.Random(3), subscribe=False).subscription_id is None
    webhooks.invalidate()
