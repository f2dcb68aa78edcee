"""A KYC review decided on its case page moves the case with it (Playwright, Debian's
chromium, the real app): approved closes the case (resolved, "kyc approved") with the note;
asking for more information, on a case the reviewer works, makes it wait for the customer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from riskops.accounts import kyc
from riskops.accounts.models import KycReview
from riskops.accounts.watch import AccountWatch
from riskops.auth.models import User
from riskops.auth.permissions import Principal
from riskops.cases import service as cases
from riskops.cases.alert_intake import drain_outbox
from riskops.cases.models import Case, CaseAlert, CaseStatus
from riskops.events import schemas as s
from riskops.kernel.db import session_factory, unit_of_work


def _no_lists(*_args: object) -> list[kyc.ScreenMatch] | None:
    return None


def _review_case(served: Any, account: str) -> tuple[int, int]:
    """A KYC submission of ``account`` reviewed (as the accounts follower does) and its case
    opened; returns (case id, review id)."""
    sessions = session_factory(served.engine)
    now = datetime.now(UTC)
    with unit_of_work(sessions) as session:
        watch = AccountWatch(checks=kyc.Checks(screen=_no_lists))
        watch.add(
            s.KycSubmitted(
                event_id=f"{account}-kyc",
                account_id=account,
                occurred_at=now - timedelta(hours=1),
                level=2,
                document_type="passport",
                document_country="DE",
                full_name="Anna Schmidt",
                date_of_birth=date(1990, 5, 17),
                nationality="DE",
            ),
            1,
        )
        watch.flush(session, now=now)
    with unit_of_work(sessions) as session:
        drain_outbox(session, now=now)
        alert = session.scalars(select(CaseAlert).where(CaseAlert.account_id == account)).first()
        review = session.scalars(select(KycReview).where(KycReview.account_id == account)).one()
        assert alert is not None and alert.case_id is not None
        return alert.case_id, review.id


def _decide(page: Any, case_id: int, review_id: int, decision: str, note: str) -> None:
    page.goto(f"/cases/{case_id}")
    form = page.locator(f"#review-form-{review_id}")
    form.locator(f'input[value="{decision}"]').check()
    form.locator("textarea[name=note]").fill(note)
    form.locator("button[type=submit]").click()
    page.wait_for_url(f"**/cases/{case_id}?done=kyc_decided")


def _case(served: Any, case_id: int) -> Case:
    with session_factory(served.engine)() as session:
        case = session.get(Case, case_id)
        assert case is not None
        return case


def test_approving_a_kyc_review_closes_its_case_with_the_note(
    page: Any, served: Any, login: Callable[..., None], uid: Callable[[str], str]
) -> None:
    case_id, review_id = _review_case(served, uid("kyc"))
    login(page, "sam")  # a senior analyst: kyc:review
    _decide(page, case_id, review_id, "approve", "passport and selfie match")
    status = page.locator("#case-status").inner_text().lower()
    assert "closed" in status and "resolved" in status and "kyc approved" in status
    assert "passport and selfie match" in page.locator("#notes").inner_text()  # the case note
    case = _case(served, case_id)
    assert (case.status, case.reason_code) == (CaseStatus.CLOSED, "kyc_approved")


def test_asking_for_more_makes_the_worked_case_wait_for_the_customer(
    page: Any, served: Any, login: Callable[..., None], uid: Callable[[str], str]
) -> None:
    case_id, review_id = _review_case(served, uid("kyc"))
    with unit_of_work(session_factory(served.engine)) as session:
        sam = session.scalars(select(User).where(User.username == "sam")).one()
        principal = Principal.for_user(sam.id, sam.username, sam.role)
        cases.assign(session, principal, case_id, sam.id)
    login(page, "sam")
    _decide(page, case_id, review_id, "more_info", "proof of address missing")
    assert "waiting" in page.locator("#case-status").inner_text().lower()
    case = _case(served, case_id)
    assert case.status is CaseStatus.WAITING_CUSTOMER and case.waiting_until is not None
