"""A case decision pushes its outcome into the account's rating (``cases.decisions`` calls
``accounts.rating.record_case_outcome``): closed restricted, the rating says so, with the
case as its reason and ``case`` as what recomputed it. SQLite and PostgreSQL."""

from __future__ import annotations

import sys
from pathlib import Path

_CASES_TESTS = str(Path(__file__).resolve().parent.parent / "cases")
if _CASES_TESTS not in sys.path:
    sys.path.append(_CASES_TESTS)

from case_fakes import T0, alert, users  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

from riskops.accounts import rating  # noqa: E402
from riskops.accounts.models import RatingBand, RestrictionKind  # noqa: E402
from riskops.cases import alert_intake, decisions, service  # noqa: E402
from riskops.cases.models import ActionKind  # noqa: E402
from riskops.cases.schemas import DecisionIn, NoteSections  # noqa: E402
from riskops.kernel.db import session_factory, unit_of_work  # noqa: E402

NOTE = NoteSections(
    summary="mule pattern",
    evidence="fan-in, fast out",
    findings="many unrelated senders",
    decision="lock withdrawals",
    rationale="stop the flow",
)


def test_a_restricting_case_decision_recomputes_the_rating(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        u = users(session)
        alert_intake.raise_alert(session, alert("r1", account="acc-9"), now=T0)
        case = service.take_next(session, u["ana"], now=T0)
        assert case is not None
        body = DecisionIn(
            action=ActionKind.RESTRICT, note=NOTE, restrictions=[RestrictionKind.WITHDRAWAL_LOCK]
        )
        decisions.decide(session, u["ana"], case.id, body, now=T0)
        rated = rating.current(session, "acc-9")
        assert rated is not None
        points = {r.code: r.points for r in rated.reasons}
        assert points["CASE_RESTRICTED"] == 20 and points["ACCOUNT_RESTRICTED"] == 10
        assert rated.band in (RatingBand.MEDIUM, RatingBand.HIGH)
        assert rating.history(session, "acc-9")[0].trigger == "case"


def test_a_dismissal_is_recorded_but_weighs_nothing(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        u = users(session)
        alert_intake.raise_alert(session, alert("r2", account="acc-8"), now=T0)
        case = service.take_next(session, u["ana"], now=T0)
        assert case is not None
        body = DecisionIn(action=ActionKind.DISMISS, note=NOTE, reason_code="false_positive")
        decisions.decide(session, u["ana"], case.id, body, now=T0)
        rated = rating.current(session, "acc-8")
        assert rated is not None
        assert not any(r.code.startswith("CASE_") for r in rated.reasons)
