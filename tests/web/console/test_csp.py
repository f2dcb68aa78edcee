"""The console under its Content-Security-Policy: what were inline handlers (the "?" link,
filters that apply on change, "Back" on an error page) work from ``console.js``; the
``page`` fixture fails a test on any policy violation."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from playwright.sync_api import expect

from riskops.http.security import CONTENT_SECURITY_POLICY


def test_the_console_is_served_with_the_policy(page: Any, login: Callable[..., None]) -> None:
    login(page, "max")
    answer = page.goto("/queues/kyc")
    assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert answer.headers["x-frame-options"] == "DENY"


def test_the_help_link_opens_the_shortcuts(page: Any, login: Callable[..., None]) -> None:
    login(page, "ana")
    expect(page.locator("#help-overlay")).to_be_hidden()
    page.click("[data-help-open]")
    expect(page.locator("#help-overlay")).to_be_visible()


def test_queue_filters_apply_when_changed(page: Any, login: Callable[..., None]) -> None:
    login(page, "max")
    page.goto("/queues/kyc")
    page.check("input[name=unassigned]")
    expect(page).to_have_url(re.compile(r"unassigned=true"))
    values = page.locator("#status option").evaluate_all("os => os.map(o => o.value)")
    choice = next(v for v in values if v)
    page.select_option("#status", choice)
    expect(page).to_have_url(re.compile(rf"status={choice}"))


def test_back_on_an_error_page(page: Any, login: Callable[..., None]) -> None:
    login(page, "ana")
    page.goto("/queues/kyc")
    page.goto("/cases/999999999")
    page.click("[data-history-back]")
    expect(page).to_have_url(re.compile(r"/queues/kyc$"))
