"""The console in a real browser: what an analyst, a senior and a manager do in a shift."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from playwright.sync_api import expect
from sqlalchemy.orm import Session

from riskops.auth.models import User
from riskops.cases.alert_intake import drain_outbox, raise_alert
from riskops.cases.models import AlertSource
from riskops.cases.repository import open_case_of
from riskops.cases.schemas import AlertIn
from riskops.monitor import repository as monitor_repo
from riskops.monitor.models import HoldStatus

Login = Callable[..., None]
Uid = Callable[[str], str]
NOTE = {
    "summary": "Withdrawal to a new address right after a failed login from a new country.",
    "evidence": "Timeline of 30 days, logins, devices, the destination address.",
    "findings": "New device and IP country, then most of the balance out.",
    "decision": "Lock withdrawals until the customer is verified.",
    "rationale": "Account takeover pattern; policy ATO-2 says lock first.",
}


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _alert(account_id: str | None, ref: str, **kw: Any) -> AlertIn:
    base: dict[str, Any] = {
        "source": AlertSource.EMAIL,
        "source_ref": ref,
        "account_id": account_id,
        "kind": "email",
        "title": f"Report about {account_id}",
        "severity": 50,
        "reason": "customer reported",
    }
    base.update(kw)
    return AlertIn(**base)


def _open_case(served: Any, account_id: str, **kw: Any) -> int:
    def work(session: Session) -> int:
        return raise_alert(session, _alert(account_id, f"ref-{account_id}", **kw)).case.id

    case_id: int = served.seed(work)
    return case_id


def _held_withdrawal(served: Any, account: str, *, amount: str, usd_value: str) -> Any:
    """A SIM swap, then an ETH withdrawal to a new address from a device never seen before
    20 minutes later (SIM-001): the monitor holds it. The hold's id."""
    now = datetime.now(UTC)
    served.decide(
        {
            "type": "provider.signal",
            "event_id": f"{account}-swap",
            "account_id": account,
            "occurred_at": _iso(now - timedelta(minutes=20)),
            "signal": "sim_swap",
        }
    )
    answer = served.decide(
        {
            "type": "withdrawal.requested",
            "event_id": f"{account}-wd",
            "account_id": account,
            "occurred_at": _iso(now),
            "asset": "ETH",
            "amount": amount,
            "usd_value": usd_value,
            "address": "0xnew",
            "device_id": f"{account}-new-phone",
        }
    )
    assert answer["decision"] == "hold" and answer["hold_id"]
    return answer["hold_id"]


def _write_note(page: Any) -> None:
    for key, text in NOTE.items():
        page.fill(f"#note-{key}", text)


def test_login_refuses_a_wrong_password_then_lets_the_right_one_in(page: Any, login: Login) -> None:
    login(page, "ana", "not the password")
    assert page.locator("#login-error").inner_text() == "wrong username or password"
    assert "/login" in page.url
    login(page, "ana")
    assert page.locator("h1").first.inner_text().startswith("Queue overview")
    # a page asked for before logging in comes back after it
    page.context.clear_cookies()
    page.goto("/holds")
    assert "/login?next=/holds" in page.url
    page.fill("#username", "ana")
    page.fill("#password", "correct horse battery staple")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/holds$"))
    # logging out ends the session: the next page asks for a login again
    page.click("text=Log out")
    page.wait_for_url(re.compile(r"/login$"))
    page.goto("/my")
    assert "/login?next=/my" in page.url


def test_take_next_opens_the_highest_priority_case_with_a_live_timer(
    page: Any, served: Any, login: Login, uid: Uid
) -> None:
    low = _open_case(served, uid("low"), severity=20, queue_key="kyc")
    high = _open_case(served, uid("high"), severity=90, queue_key="kyc")
    mid = _open_case(served, uid("mid"), severity=50, queue_key="kyc")
    assert len({low, high, mid}) == 3
    login(page, "alex")
    page.goto("/queues/kyc")
    rows = page.locator("#queue-table tbody tr")
    assert rows.count() >= 3
    assert rows.first.locator("a").first.inner_text() == f"#{high}"  # priority order
    page.click("#take-next-form button")
    page.wait_for_url(re.compile(rf"/cases/{high}$"))
    assert "(you)" in page.locator("#case-assignee").inner_text()
    page.goto("/my")
    timer = page.locator(f"#my-table tr[data-href='/cases/{high}'] .sla")
    assert timer.get_attribute("data-due")
    first = timer.inner_text()
    assert re.search(r"left|BREACHED", first)
    page.wait_for_timeout(1_100)  # the countdown ticks every second
    assert timer.inner_text() != first or "d " in first


def test_the_timeline_filter_changes_the_rows(
    page: Any, served: Any, login: Login, uid: Uid
) -> None:
    account = uid("tl")
    now = datetime.now(UTC)
    events: list[dict[str, Any]] = [
        {"type": "account.created", "email": "x@example.com", "country": "DE"},
        {"type": "login", "success": True, "ip": "198.51.100.7", "device_id": "dev-1"},
        {"type": "login", "success": False, "ip": "203.0.113.5", "ip_country": "NG"},
        {
            "type": "deposit",
            "asset": "USDT",
            "amount": "250",
            "usd_value": "250.00",
            "rail": "crypto",
        },
    ]
    for i, extra in enumerate(events):
        moment = now - timedelta(minutes=30 - i)
        served.decide(
            {"event_id": f"{account}-{i}", "account_id": account, "occurred_at": _iso(moment)}
            | extra
        )
    login(page, "ana")
    page.goto(f"/accounts/{account}")
    rows = page.locator("#timeline-rows tr.timeline-row")
    assert rows.count() == 4
    assert "x@example.com" in page.locator("#account-summary").inner_text()
    page.select_option("#timeline-filter", "login")
    # A locator assertion, not wait_for_function: that one evaluates a string in the page,
    # which the console's Content-Security-Policy (no 'unsafe-eval') refuses.
    expect(rows).to_have_count(2)
    assert set(rows.evaluate_all("rs => rs.map(r => r.dataset.type)")) == {"login"}
    assert "203.0.113.5" in page.locator("#timeline-rows").inner_text()


def test_a_withdrawal_lock_with_a_note_blocks_the_next_withdrawal(
    page: Any, served: Any, login: Login, uid: Uid
) -> None:
    account = uid("lock")
    case_id = _open_case(served, account, severity=70)
    login(page, "ana")
    page.goto(f"/cases/{case_id}")
    page.click("#assign-me")
    page.wait_for_url(re.compile(rf"/cases/{case_id}\?done=assigned"))
    page.select_option("#decision-action", "restrict")
    page.check("input[name=restrictions][value=withdrawal_lock]")
    _write_note(page)
    page.click("#decision-form button[type=submit]")
    page.wait_for_url(re.compile(rf"/cases/{case_id}\?done=decided"))
    assert "closed" in page.locator("#case-status").inner_text()
    assert "Lock withdrawals" in page.locator("#notes").inner_text()
    # a closed note is never edited; an amendment is appended
    page.fill("#notes input[name=text]", "Customer called back; the lock stays.")
    page.click("#notes form button")
    page.wait_for_url(re.compile(r"done=amended"))
    assert "the lock stays" in page.locator("#notes .amendment").inner_text()
    assert "Lock withdrawals" in page.locator("#notes .note p").nth(3).inner_text()
    page.goto(f"/accounts/{account}")
    assert page.locator("#restrictions tr[data-kind=withdrawal_lock]").count() == 1
    answer = served.decide(
        {
            "type": "withdrawal.requested",
            "event_id": f"{account}-wd",
            "account_id": account,
            "occurred_at": _iso(datetime.now(UTC)),
            "asset": "BTC",
            "amount": "0.1",
            "usd_value": "6000.00",
            "address": "bc1qattacker",
        }
    )
    assert answer["decision"] == "block"


def test_an_incomplete_decision_says_what_is_missing(
    page: Any, served: Any, login: Login, uid: Uid
) -> None:
    case_id = _open_case(served, uid("incomplete"))
    login(page, "ana")
    page.goto(f"/cases/{case_id}")
    page.click("#assign-me")
    page.select_option("#decision-action", "restrict")
    _write_note(page)  # but no restriction ticked
    page.click("#decision-form button[type=submit]")
    flash = page.locator("#flash .flash.error")
    flash.wait_for()
    assert "restriction" in flash.inner_text()
    assert "done=decided" not in page.url
    assert "assigned" in page.locator("#case-status").inner_text()  # rolled back, still open
    assert page.locator("#note-summary").input_value() == NOTE["summary"]  # nothing typed lost


def test_a_full_freeze_waits_for_a_second_person(
    browser: Any, page: Any, served: Any, login: Login, uid: Uid
) -> None:
    account = uid("freeze")
    case_id = _open_case(served, account, severity=80)
    login(page, "ana")
    page.goto(f"/cases/{case_id}")
    page.click("#assign-me")
    page.select_option("#decision-action", "restrict")
    page.check("input[name=restrictions][value=full_freeze]")
    _write_note(page)
    page.click("#decision-form button[type=submit]")
    page.wait_for_url(re.compile(rf"/cases/{case_id}\?done=proposed"))
    assert "waiting approval" in page.locator("#case-status").inner_text()
    approval = page.locator("#pending-approvals .approval")
    assert "Waiting for someone else" in approval.inner_text()
    assert approval.locator("button", has_text="Approve").count() == 0
    action_id = approval.get_attribute("id").removeprefix("action-")
    # the maker cannot approve, even by posting the form by hand
    csrf = page.locator("input[name=csrf_token]").first.get_attribute("value")
    refused = page.request.post(
        f"/approvals/{action_id}/approve", form={"csrf_token": csrf, "comment": "self"}
    )
    assert refused.status == 403 and "Not allowed" in refused.text()
    page.goto(f"/accounts/{account}")
    assert page.locator("#restrictions tr[data-kind=full_freeze]").count() == 0
    page.goto("/approvals")
    assert "waiting for someone else" in page.locator("#waiting-mine").inner_text()

    senior_ctx = browser.new_context(base_url=served.url)
    try:
        senior = senior_ctx.new_page()
        login(senior, "sam")
        senior.goto("/approvals")
        card = senior.locator(f"#action-{action_id}")
        assert "proposed by ana" in card.inner_text()
        card.locator("button", has_text="Approve").click()
        senior.wait_for_url(re.compile(r"/approvals\?done=approved"))
        assert senior.locator(f"#action-{action_id}").count() == 0
        senior.goto(f"/accounts/{account}")
        assert senior.locator("#restrictions tr[data-kind=full_freeze]").count() == 1
    finally:
        senior_ctx.close()


def test_a_held_withdrawal_is_released_from_the_holds_page_with_a_note(
    page: Any, served: Any, login: Login, uid: Uid
) -> None:
    account = uid("held")
    hold_id = _held_withdrawal(served, account, amount="0.5", usd_value="1500.00")
    login(page, "ana")
    page.goto("/holds")
    row = page.locator(f"#hold-{hold_id}")
    assert account in row.inner_text()
    row.locator("input[name=note]").fill("Customer confirmed the SIM change in branch; ID checked.")
    row.locator("button", has_text="Release").click()
    page.locator(f"#hold-{hold_id} .badge", has_text="released").wait_for()
    assert "ana" in page.locator(f"#hold-{hold_id}").inner_text()

    def status(session: Session) -> HoldStatus:
        hold = monitor_repo.get_hold(session, hold_id)
        assert hold is not None and hold.note is not None
        return hold.status

    assert served.seed(status) is HoldStatus.RELEASED


def test_a_service_request_becomes_a_case_in_its_queue(page: Any, login: Login, uid: Uid) -> None:
    account = uid("sr")
    login(page, "ana")
    page.goto("/service-requests/new")
    page.fill("#sr-account", account)
    page.select_option("#sr-kind", "appeal")
    page.fill("#sr-subject", "Please lift the withdrawal lock")
    page.fill("#sr-description", "Customer says the lock blocks rent; they passed re-KYC.")
    page.click("#service-request-form button[type=submit]")
    page.wait_for_url(re.compile(r"/cases/\d+\?done=requested"))
    header = page.locator("#case-header").inner_text()
    assert "service requests" in header and account in header
    assert "Appeal of a restriction" in page.locator("h1").inner_text()


def test_keyboard_shortcuts_navigate_but_not_while_typing(page: Any, login: Login) -> None:
    login(page, "ana")
    page.goto("/")
    page.locator("[data-search]").focus()
    page.keyboard.type("gh")
    assert page.url.endswith("/") and page.locator("[data-search]").input_value() == "gh"
    page.locator("h1").first.click()  # leave the field
    page.keyboard.press("?")
    assert page.locator("#help-overlay").is_visible()
    page.keyboard.press("Escape")
    assert not page.locator("#help-overlay").is_visible()
    page.keyboard.press("g")
    page.keyboard.press("h")
    page.wait_for_url(re.compile(r"/holds$"))
    assert page.locator("h1").first.inner_text().startswith("Held withdrawals")


def test_an_analyst_gets_a_403_page_where_a_manager_gets_in(
    browser: Any, page: Any, served: Any, login: Login
) -> None:
    login(page, "ana")
    response = page.goto("/audit")
    assert response.status == 403
    body = page.locator("#error-page").inner_text()
    assert "Not allowed" in body and "audit:view" in body
    assert "Traceback" not in page.content()
    manager_ctx = browser.new_context(base_url=served.url)
    try:
        manager = manager_ctx.new_page()
        login(manager, "max")
        assert manager.goto("/audit").status == 200
        assert manager.locator("#audit-table").inner_text().count("auth.login") >= 1
    finally:
        manager_ctx.close()


def test_a_senior_reassigns_a_case_and_an_analyst_cannot(
    browser: Any, page: Any, served: Any, login: Login, uid: Uid
) -> None:
    case_id = _open_case(served, uid("reassign"), severity=60)
    login(page, "ana")
    page.goto(f"/cases/{case_id}")
    assert page.locator("#reassign-form").count() == 0  # analysts take, they do not hand out
    senior_ctx = browser.new_context(base_url=served.url)
    try:
        senior = senior_ctx.new_page()
        login(senior, "sam")
        senior.goto(f"/cases/{case_id}")
        senior.select_option("#reassign-to", label="Alex (analyst)")
        senior.click("#reassign")
        senior.wait_for_url(re.compile(rf"/cases/{case_id}\?done=assigned"))
        assert senior.locator("#case-assignee").inner_text() == "Alex"
        senior.select_option("#reassign-to", value="")
        senior.click("#reassign")
        senior.wait_for_url(re.compile(rf"/cases/{case_id}\?done=unassigned"))
        assert senior.locator("#case-assignee").inner_text() == "unassigned"
    finally:
        senior_ctx.close()
    alex_id = served.seed(lambda s: s.query(User).filter_by(username="alex").one().id)
    csrf = page.locator("input[name=csrf_token]").first.get_attribute("value")
    refused = page.request.post(
        f"/cases/{case_id}/assign", form={"csrf_token": csrf, "user_id": str(alex_id)}
    )
    assert refused.status == 403


def test_the_rota_shows_who_is_on_shift_now(page: Any, served: Any, login: Login) -> None:
    from riskops.auth.permissions import Principal
    from riskops.cases.shifts import add_shift

    now = datetime.now(UTC)

    def work(session: Session) -> None:
        alex = session.query(User).filter_by(username="alex").one()
        add_shift(
            session,
            Principal.system("tests"),
            alex.id,
            now - timedelta(hours=1),
            now + timedelta(hours=7),
            ["aml"],
        )

    served.seed(work)
    login(page, "ana")
    page.keyboard.press("g")
    page.keyboard.press("r")
    page.wait_for_url(re.compile(r"/rota$"))
    assert "Alex" in page.locator("#on-now").inner_text()
    assert "AML" in page.locator("#on-now").inner_text()
    assert page.locator("tr.current").count() >= 1


# What each role may not do in the console: (user, method, path, form) -> refused with 403.
REFUSED = [
    ("rui", "post", "/take-next", {}),  # a rule author does not work cases
    (
        "rui",
        "post",
        "/service-requests",
        {"account_id": "acc-x", "kind": "dispute", "subject": "s", "description": "d"},
    ),
    ("cora", "post", "/take-next", {}),  # compliance approves and files, it does not take
    ("ana", "get", "/audit", None),  # the audit trail is for managers and compliance
    ("alex", "post", "/approvals/1/approve", {"comment": "x"}),  # analysts do not approve
]


def test_each_role_is_refused_what_it_may_not_do(browser: Any, served: Any, login: Login) -> None:
    for username, method, path, form in REFUSED:
        context = browser.new_context(base_url=served.url)
        try:
            page = context.new_page()
            login(page, username)
            if method == "get":
                response = page.goto(path)
                status, text = response.status, page.content()
            else:
                page.goto("/")
                csrf = page.locator("input[name=csrf_token]").first.get_attribute("value")
                answer = page.request.post(path, form={"csrf_token": csrf, **form})
                status, text = answer.status, answer.text()
            assert status == 403, f"{username} {method} {path}: {status}"
            assert "Not allowed" in text and "Traceback" not in text
        finally:
            context.close()


def test_the_decision_form_resolves_each_held_withdrawal_from_the_keyboard(
    page: Any, served: Any, login: Login, uid: Uid
) -> None:
    account = uid("decide-held")
    hold_id = _held_withdrawal(served, account, amount="8", usd_value="23856.00")
    served.seed(drain_outbox)  # the hold's case alert becomes a case

    def case_of(session: Session) -> int:
        case = open_case_of(session, account)
        assert case is not None
        return case.id

    case_id = served.seed(case_of)
    login(page, "ana")
    page.goto(f"/cases/{case_id}")
    page.click("#assign-me")
    page.wait_for_url(re.compile(rf"/cases/{case_id}\?done=assigned"))
    choice = page.locator("#decision-holds .hold-choice")
    assert f"#{hold_id}" in choice.inner_text() and "$23,856" in choice.inner_text()
    page.focus("#decision-action")
    page.keyboard.type("Dismiss")  # a select picks the option whose text is typed
    assert page.locator("#decision-action").input_value() == "dismiss"
    _write_note(page)
    page.focus("#decision-form button[type=submit]")
    page.keyboard.press("Enter")  # "leave held", with no reason: refused, nothing lost
    flash = page.locator("#flash .flash.error")
    flash.wait_for()
    assert f"#{hold_id} still held" in flash.inner_text()
    assert "assigned" in page.locator("#case-status").inner_text()
    page.focus("#decision-action")
    page.keyboard.press("Tab")  # into the hold's radio group, on its checked "Leave held"
    expect(page.locator(f"input[name=hold_{hold_id}][value='']")).to_be_focused()
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")
    assert page.locator(f"input[name=hold_{hold_id}][value=release]").is_checked()
    page.focus("#decision-form button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/cases/{case_id}\?done=decided"))
    assert "closed" in page.locator("#case-status").inner_text()

    def hold_of(session: Session) -> tuple[HoldStatus, str | None]:
        hold = monitor_repo.get_hold(session, hold_id)
        assert hold is not None
        return hold.status, hold.resolved_by

    assert served.seed(hold_of) == (HoldStatus.RELEASED, "ana")
