"""The SAR flow in Chromium: from the case page's "Draft SAR" to a report whose goAML export
validates: the incomplete draft's export lists the schema's reasons, the drafter completes
the subject and picks the transactions, a second person (compliance) approves, exports,
downloads and marks it filed."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from riskops.cases.alert_intake import raise_alert
from riskops.cases.models import AlertSource
from riskops.cases.schemas import AlertIn

SUBJECT = {
    "first_name": "Sara",
    "last_name": "Lopez",
    "birth_date": "1990-01-02",
    "nationality": "ES",
    "country": "ES",
    "id_type": "PASSP",
    "id_number": "X1234567",
    "id_country": "ES",
    "id_issued": "2020-01-01",
    "id_expires": "2030-01-01",
}


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _case_with_money(served: Any, account: str) -> int:
    now = datetime.now(UTC)
    money = [
        ("dep", "deposit", {"rail": "crypto", "source_address": "bc1qsource"}),
        ("wd", "withdrawal.requested", {"address": "bc1qdestination"}),
    ]
    for i, (suffix, kind, extra) in enumerate(money):
        served.decide(
            {
                "type": kind,
                "event_id": f"{account}-{suffix}",
                "account_id": account,
                "occurred_at": _iso(now - timedelta(minutes=30 - i)),
                "asset": "BTC",
                "amount": "0.2",
                "usd_value": "9400.00",
            }
            | extra
        )

    def work(session: Session) -> int:
        alert = AlertIn(
            source=AlertSource.MONITOR,
            source_ref=f"ref-{account}",
            account_id=account,
            kind="RULE-SAR",
            title="deposits just below the threshold",
            severity=60,
            typology="structuring",
            amount_usd=Decimal("9400.00"),
            detail={"event_id": f"{account}-dep"},
        )
        return raise_alert(session, alert).case.id

    case_id: int = served.seed(work)
    return case_id


def test_from_the_case_to_a_validated_export(
    page: Any, served: Any, login: Callable[..., None], uid: Callable[[str], str]
) -> None:
    account = uid("sar")
    case_id = _case_with_money(served, account)
    login(page, "ana")
    page.goto(f"/cases/{case_id}")
    page.click("#draft-sar")  # the panel arrives by htmx
    page.wait_for_url(re.compile(r"/sars/\d+\?sar=drafted"))
    sar_url = page.url.split("?")[0]
    assert "draft" in page.locator("#sar-status").inner_text()
    assert f"Case {case_id}" in page.input_value("#sar-narrative")
    # the alert's deposit is picked; the withdrawal is offered
    assert page.is_checked(f"input[name=event_id][value='{account}-dep']")
    assert not page.is_checked(f"input[name=event_id][value='{account}-wd']")

    # the incomplete draft does not validate: the reasons are listed, nothing is kept
    page.select_option("select[name=format]", "goaml")
    page.click("#sar-export")
    page.wait_for_selector("#sar-validation")
    reasons = page.locator("#sar-validation").inner_text()
    assert "subjects[0].birth_date" in reasons and "goAML" in reasons
    assert page.locator("#sar-export-list").count() == 0

    for field, value in SUBJECT.items():
        page.fill(f"#sar-subject-0 input[name=s0_{field}]", value)
    page.select_option("#sar-subject-0 select[name=s0_gender]", "F")
    page.check(f"input[name=event_id][value='{account}-wd']")
    page.fill("#sar-narrative", "Two deposits below the threshold, withdrawn the same hour.")
    page.click("#sar-save")
    page.wait_for_url(re.compile(r"sar=saved"))
    page.click("#sar-submit")
    page.wait_for_url(re.compile(r"sar=submitted"))
    assert "second person" in page.locator("#sar-actions").inner_text()  # not ana's to approve

    page.context.clear_cookies()
    login(page, "cora")
    page.goto(sar_url)
    page.click("#sar-approve")
    page.wait_for_url(re.compile(r"sar=approved"))
    page.select_option("select[name=format]", "goaml")
    page.click("#sar-export")
    page.wait_for_url(re.compile(r"sar=exported"))
    assert page.locator("#sar-validation").count() == 0
    row = page.locator("#sar-export-list tr").first
    assert "valid" in row.inner_text() and "goaml" in row.inner_text()
    href = row.locator("a").get_attribute("href")
    answer = page.request.get(href)
    assert answer.status == 200 and answer.headers["content-type"].startswith("application/xml")
    body = answer.text()
    assert f"<transactionnumber>{account}-wd</transactionnumber>" in body
    assert "<first_name>Sara</first_name>" in body

    page.fill("#sar-file-form input[name=fiu_reference]", "FIU-2026-1")
    page.click("#sar-mark-filed")
    page.wait_for_url(re.compile(r"sar=filed"))
    assert "FIU-2026-1" in page.locator("#sar-filed").inner_text()
    page.goto(f"/cases/{case_id}")
    page.wait_for_selector("#case-sar-live")
    assert "filed" in page.locator("#case-sar-live").inner_text()
