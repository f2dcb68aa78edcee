"""The demo's messages: information requests and security tips from the worked cases."""

from __future__ import annotations

import random

from contact_support import T0, seed_accounts, taken_case, user
from sqlalchemy import select
from sqlalchemy.engine import Engine

from riskops.auth.permissions import Role
from riskops.cases.models import Case, CaseStatus
from riskops.contact import seed
from riskops.contact.models import ContactMessage
from riskops.kernel.db import session_factory, unit_of_work


def test_seed_asks_some_customers_and_teaches_others(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        seed_accounts(session)
        ana = user(session, "ana", Role.ANALYST)
        for i, account in enumerate(("acc-0000201", "acc-0000202", "acc-0000203")):
            taken_case(session, ana, account, ref=f"s{i}")
        done = seed.seed(session, T0, random.Random(3))
        assert (done.requests, done.education, done.skipped) == (1, 2, [])
        sent = session.scalars(select(ContactMessage)).all()
        assert len(sent) == 3
        waiting = session.scalars(
            select(Case).where(Case.status == CaseStatus.WAITING_CUSTOMER)
        ).all()
        assert len(waiting) == 1
