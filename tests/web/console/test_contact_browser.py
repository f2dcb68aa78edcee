"""The contact flow in Chromium: from the case page, `c` focuses the templates, Enter
previews (in the account's language, the HTML in a sandboxed frame), wording that would
tip the customer off is shown as blocked, and Ctrl+Enter sends the information request,
after which the case waits for the customer and the panel lists the message."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from riskops.auth import repository as auth_repo
from riskops.auth.service import user_principal
from riskops.cases import alert_intake
from riskops.cases import service as cases
from riskops.cases.models import AlertSource
from riskops.cases.schemas import AlertIn
from riskops.events.service import ingest
from riskops.events.validation import from_obj


def _case_for_ana(account_id: str) -> Callable[[Session], int]:
    def work(session: Session) -> int:
        event = from_obj(
            {
                "type": "account.created",
                "event_id": f"created-{account_id}",
                "account_id": account_id,
                "occurred_at": "2026-02-01T10:00:00Z",
                "email": f"{account_id}@example.com",
                "phone": "+34600999888",
                "country": "ES",
            }
        )
        ingest(session, [(None, event)], source="api")
        alert = AlertIn(
            source=AlertSource.MONITOR,
            source_ref=f"contact-{account_id}",
            account_id=account_id,
            kind="RULE-1",
            title="contact browser test",
            typology="mule",
        )
        case = alert_intake.raise_alert(session, alert).case
        user = auth_repo.user_by_username(session, "ana")
        assert user is not None
        ana = user_principal(user)
        cases.assign(session, ana, case.id, user.id)
        return case.id

    return work


def test_preview_and_send_from_the_case_page(
    page: Any, served: Any, login: Callable[..., None], uid: Callable[[str], str]
) -> None:
    case_id = served.seed(_case_for_ana(uid("acc")))
    login(page, "ana")
    page.goto(f"/cases/{case_id}")
    page.wait_for_selector("#contact-form")

    page.keyboard.press("c")
    assert page.evaluate("document.activeElement.id") == "contact-template"
    page.select_option("#contact-template", "education_2fa")
    page.focus("#contact-template")
    page.keyboard.press("Enter")
    page.wait_for_selector("#contact-preview-subject")
    assert page.text_content("#contact-language") == "es"
    assert "autenticación" in (page.text_content("#contact-preview-text") or "")
    assert page.get_attribute("iframe.contact-html", "sandbox") == ""

    page.select_option("#contact-template", "custom")
    page.fill("#contact-form input[name=subject]", "Hola")
    page.fill(
        "#contact-form textarea[name=message]", "Hemos enviado un reporte de operación sospechosa."
    )
    page.focus("#contact-template")
    page.keyboard.press("Enter")
    page.wait_for_selector("#contact-blocked")

    page.fill("#contact-form textarea[name=message]", "")
    page.select_option("#contact-template", "request_info")
    page.fill("#contact-form textarea[name=details]", "Un extracto bancario del depósito.")
    due = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    page.fill("#contact-form input[name=due_at]", due)
    page.focus("#contact-form textarea[name=details]")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#contact-messages")
    assert "request info" in (page.text_content("#contact-messages") or "")
    assert "waiting" in (page.text_content("main") or "").lower()
