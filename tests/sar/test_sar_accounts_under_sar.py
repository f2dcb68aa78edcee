"""accounts_under_sar: the tipping-off guard's question, answered from reports and from
cases referred for SAR (pending or approved referrals)."""

from __future__ import annotations

from sar_fakes import T0, open_case
from sqlalchemy.engine import Engine

from riskops.cases.models import ActionKind, ActionStatus, CaseAction, CaseOutcome, Note
from riskops.kernel.db import session_factory, unit_of_work
from riskops.sar import repository as repo
from riskops.sar import service
from riskops.sar.models import SarReport, SarStatus


def _report(session, case_id: int, status: SarStatus, accounts: list[str]) -> None:  # type: ignore[no-untyped-def]
    sar = repo.add(
        session,
        SarReport(
            case_id=case_id,
            status=status,
            typology="structuring",
            narrative="",
            subjects=[],
            transactions=[],
            drafted_by="ana",
            drafted_at=T0,
            updated_at=T0,
            retention_until=T0,
            legal_hold=False,
            version=1,
        ),
    )
    repo.set_accounts(session, sar.id, accounts)


def test_reports_and_referrals_put_accounts_under_sar(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        drafted = open_case(session, "drafted")
        _report(session, drafted.id, SarStatus.DRAFT, ["drafted", "partner"])
        withdrawn = open_case(session, "withdrawn")
        _report(session, withdrawn.id, SarStatus.WITHDRAWN, ["withdrawn"])
        filed = open_case(session, "filed")
        _report(session, filed.id, SarStatus.FILED, ["filed"])
        referred = open_case(session, "referred")
        referred.outcome = CaseOutcome.SAR_REFERRED
        pending = open_case(session, "pending")
        refused = open_case(session, "refused")
        for case, status in (
            (pending, ActionStatus.PENDING_APPROVAL),
            (refused, ActionStatus.REFUSED),
        ):
            note = repo.add(
                session, Note(case_id=case.id, author="ana", created_at=T0, sections={})
            )
            repo.add(
                session,
                CaseAction(
                    case_id=case.id,
                    note_id=note.id,
                    kind=ActionKind.REFER_SAR,
                    params={},
                    status=status,
                    requested_by="ana",
                    requested_at=T0,
                    result={},
                ),
            )
        open_case(session, "clean")
        asked = ["drafted", "partner", "withdrawn", "filed", "referred", "pending", "refused"]
        asked += ["clean", "unknown"]
        assert service.accounts_under_sar(session, asked) == {
            "drafted",
            "partner",
            "filed",
            "referred",
            "pending",
        }
        assert service.accounts_under_sar(session, []) == set()


def test_many_accounts_are_asked_in_chunks(engine: Engine) -> None:
    with unit_of_work(session_factory(engine)) as session:
        case = open_case(session, "acc-1200")
        _report(session, case.id, SarStatus.APPROVED, ["acc-1200", "acc-0003"])
        asked = [f"acc-{i:04d}" for i in range(1500)]
        assert service.accounts_under_sar(session, asked) == {"acc-1200", "acc-0003"}
