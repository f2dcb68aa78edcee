"""The demo's QA seed leaves samples waiting and reviews some, never by the case's analyst."""

from __future__ import annotations

import random
from datetime import timedelta

from qa_fakes import T0, closed_case, user
from sqlalchemy.engine import Engine

from riskops.auth.permissions import Principal, Role
from riskops.cases.models import CaseOutcome
from riskops.kernel.db import session_factory
from riskops.qa import repository, seed, service
from riskops.qa.models import SampleStatus


def test_the_seed_leaves_samples_waiting_and_reviews_some(engine: Engine) -> None:
    with session_factory(engine)() as session:
        for name, role in (("ana", Role.ANALYST), ("sam", Role.SENIOR_ANALYST)):
            user(session, name, role, created_at=T0 - timedelta(days=400))
        user(session, "cora", Role.COMPLIANCE, created_at=T0 - timedelta(days=400))
        for i in range(40):
            outcome = CaseOutcome.RESTRICTED if i % 2 else CaseOutcome.OFFBOARDED
            closed_case(session, analyst="sam" if i % 3 else "ana", outcome=outcome)
        summary = seed.seed(session, T0, random.Random(7))
        assert summary["sampled"] >= 20  # every offboarding, half the restrictions
        assert summary["reviewed"] > 0 and summary["waiting"] > 0
        _, total = service.waiting(session, Principal.system("tests"), limit=500)
        assert total == summary["waiting"]
        reviewed = repository.queue(session, (SampleStatus.REVIEWED,), 500, 0)
        assert len(reviewed) == summary["reviewed"]
        assert all(s.reviewer not in (s.analyst, s.approver) for s in reviewed)
        # a second run adds nothing: every case was read, the plan stays
        again = seed.seed(session, T0, random.Random(7))
        assert again["sampled"] == 0
