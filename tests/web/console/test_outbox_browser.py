"""The outbox in a real browser: the case page loads its delivery panel (status, attempts,
last error), and on /outbox a manager filters to dead messages and sends one again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from riskops.cases.alert_intake import raise_alert
from riskops.cases.models import AlertSource
from riskops.cases.schemas import AlertIn
from riskops.outbound import guarded
from riskops.outbound.models import OutboundMessage, Status
from riskops.outbound.service import Channel, enqueue_customer


def _seed(served: Any, account: str) -> tuple[int, int, int]:
    def work(session: Session) -> tuple[int, int, int]:
        case = raise_alert(
            session,
            AlertIn(
                source=AlertSource.EMAIL,
                source_ref=f"ref-{account}",
                account_id=account,
                kind="email",
                title=f"Report about {account}",
            ),
        ).case
        # Customers' messages, as contact's tipping-off guard hands them over (ADR 0033).
        email = guarded.issue(
            channel=Channel.EMAIL,
            to=f"{account}@customers.example",
            subject=f"Documents for {account}",
            body="Please send a proof of address.",
            case_id=case.id,
            account_id=account,
        )
        sms = guarded.issue(
            channel=Channel.SMS,
            to="+447700900123",
            body="Security notice",
            case_id=case.id,
            account_id=account,
        )
        sent = enqueue_customer(session, email, purpose="rfi")
        dead = enqueue_customer(session, sms, purpose="notice")
        for pk, values in (
            (sent.id, {"status": Status.SENT, "attempts": 1}),
            (dead.id, {"status": Status.DEAD, "attempts": 8, "last_error": "HTTP 503: busy"}),
        ):
            one = update(OutboundMessage).where(OutboundMessage.id == pk)
            session.execute(one.values(**values))
        return case.id, sent.id, dead.id

    found: tuple[int, int, int] = served.seed(work)
    return found


def test_case_panel_and_retry_from_the_outbox(
    page: Any, served: Any, login: Callable[..., None], uid: Callable[[str], str]
) -> None:
    case_id, sent, dead = _seed(served, uid("ob"))
    login(page, "max")
    page.goto(f"/cases/{case_id}")
    panel = page.locator("#case-outbox-table")
    panel.wait_for()
    assert panel.locator(f"#case-outbox-{sent} .outbox-status").inner_text() == "sent"
    assert panel.locator(f"#case-outbox-{dead} .outbox-status").inner_text() == "dead"
    assert "HTTP 503: busy" in panel.locator(f"#case-outbox-{dead}").inner_text()

    page.goto("/outbox")
    page.select_option("select[name=status]", "dead")
    page.click("#outbox-filters button[type=submit]")
    page.wait_for_url("**/outbox?status=dead**")
    row = page.locator(f"#outbox-{dead}")
    assert page.locator(f"#outbox-{sent}").count() == 0
    row.locator("button.outbox-retry").click()
    page.wait_for_url("**/outbox?retried=1")
    assert "Queued again" in page.locator(".flash").inner_text()
    assert page.locator(f"#outbox-{dead} .outbox-status").inner_text() == "retrying"
    assert page.locator(f"#outbox-{dead} button.outbox-retry").count() == 0
