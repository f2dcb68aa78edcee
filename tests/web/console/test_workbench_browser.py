"""The rule author's workbench in a browser (Playwright, Debian's chromium, the real app):
edit a draft with validation as you type and save it from the keyboard, backtest it on the
stored history, compare shadow and live, promote with a second person's approval, and roll
back to an earlier version."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from riskops.kernel.clock import utcnow
from support import make_user

# The workbench's stored history (tests/authoring/workbench_seed.py), by path: this test
# runs on the console's browser fixtures, which are this directory's.
_seed_path = Path(__file__).resolve().parents[2] / "authoring" / "workbench_seed.py"
_spec = importlib.util.spec_from_file_location("workbench_seed", _seed_path)
assert _spec is not None and _spec.loader is not None
_seed = sys.modules.get("workbench_seed") or importlib.util.module_from_spec(_spec)
if "workbench_seed" not in sys.modules:
    sys.modules["workbench_seed"] = _seed
    _spec.loader.exec_module(_seed)
seed_history = _seed.seed_history


def _history(served: Any, prefix: str, *, shadow: bool = False) -> Any:
    return served.seed(lambda s: seed_history(s, prefix, utcnow(), shadow=shadow))


def test_edit_with_validation_as_you_type_then_backtest_the_draft(
    page: Any, served: Any, login: Callable[..., None], uid: Callable[[str], str]
) -> None:
    h = _history(served, uid("wbe").replace("-", ""))
    login(page, "rui")
    page.goto("/workbench")
    page.fill("#wb-q", h.rule_id)
    page.keyboard.press("Enter")
    page.wait_for_url(f"**q={h.rule_id}**")
    row = page.locator(f"#wb-rule-{h.rule_id}")
    assert "50%" in row.inner_text()  # 1 restricted, 1 dismissed of the live alerts
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/workbench/rules/{h.rule_id}")
    page.click("#wb-edit")
    page.wait_for_selector("#wb-valid")
    editor = page.locator("#wb-source")
    assert page.evaluate("document.activeElement.id") == "wb-source"
    text = editor.input_value()
    assert "version: 3" in text
    editor.fill(text.replace("action: review", "action: sometimes"))
    page.wait_for_selector("#wb-problems")
    assert "action" in page.locator("#wb-problems code").first.inner_text()
    assert page.locator("#wb-save").is_disabled()
    editor.fill(text.replace("gte: 500000", "gte: 700000"))
    page.wait_for_selector("#wb-valid")
    assert page.locator("#wb-save").is_enabled()
    editor.focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "wb-save"
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/workbench/rules/{h.rule_id}?wb=saved")
    assert "Draft saved." in page.locator("#flash").inner_text()
    assert "draft" in page.locator("#wb-version-3").inner_text()

    # Backtest v2 (>= 5,000 USD) against the live v1 (>= 10,000 USD) on the stored events.
    page.locator("#wb-version-2 summary").click()
    page.locator("#wb-backtest-2 button").click()
    page.wait_for_selector("#wb-added")
    assert page.locator("#wb-added li").all_inner_texts() == h.event_ids[1:3]
    assert page.locator("#wb-removed-none").is_visible()
    assert page.locator("#wb-bt-hits").inner_text() == "5"
    assert page.locator("#wb-bt-recall").inner_text() == "100.0%"
    assert page.locator("#wb-bt-precision").inner_text() == "66.7%"


def test_shadow_vs_live_then_promote_with_a_second_person_and_roll_back(
    page: Any, served: Any, login: Callable[..., None], uid: Callable[[str], str]
) -> None:
    h = _history(served, uid("wbp").replace("-", ""), shadow=True)
    second = uid("rita").replace("-", "")

    def author(session: Session) -> None:
        make_user(session, second, "rule_author")

    served.seed(author)
    login(page, "rui")
    page.goto(f"/workbench/rules/{h.rule_id}")
    page.click("#wb-compare")
    assert page.locator("#wb-shadow-alerts").inner_text() == "2"
    assert page.locator("#wb-live-alerts").inner_text() == "3"
    assert page.locator("#wb-only-shadow li").all_inner_texts() == h.event_ids[1:3]
    assert "100%" in page.locator("#wb-shadow-tp").inner_text()

    # rui asks for the shadow v2 to go live; rui cannot approve it.
    page.goto(f"/workbench/rules/{h.rule_id}")
    page.locator("#wb-version-2 summary").click()
    form = page.locator("#wb-promote-2")
    form.locator("select").select_option("live")
    form.locator("input[name=why]").fill("the shadow finds the restricted 7k deposit")
    form.locator("button").click()
    page.wait_for_url("**?wb=requested")
    assert "pending" in page.locator("#wb-rule-requests").inner_text()
    page.goto("/workbench/requests")
    mine = page.locator("#wb-pending-" + _pending_id(page, h.rule_id))
    assert "your request" in mine.inner_text()
    assert mine.locator("button", has_text="Approve").count() == 0

    page.context.clear_cookies()
    login(page, second)
    page.goto("/workbench/requests")
    request_id = _pending_id(page, h.rule_id)
    page.locator(f"#wb-approve-{request_id} button").click()
    page.wait_for_url(f"**/workbench/rules/{h.rule_id}?wb=approved")
    assert "live" in page.locator("#wb-version-2").inner_text()
    assert "retired" in page.locator("#wb-version-1").inner_text()

    # The second author rolls back to v1; rui approves.
    page.locator("#wb-version-1 summary").click()
    rollback = page.locator("#wb-promote-1")
    assert "Roll back to v1" in rollback.inner_text()
    rollback.locator("input[name=why]").fill("v2 floods the AML queue")
    rollback.locator("button").click()
    page.wait_for_url("**?wb=requested")
    page.context.clear_cookies()
    login(page, "rui")
    page.goto("/workbench/requests")
    request_id = _pending_id(page, h.rule_id)
    assert "rollback" in page.locator(f"#wb-pending-{request_id}").inner_text()
    page.locator(f"#wb-approve-{request_id} button").click()
    page.wait_for_url(f"**/workbench/rules/{h.rule_id}?wb=approved")
    assert "live" in page.locator("#wb-version-1").inner_text()
    assert "retired" in page.locator("#wb-version-2").inner_text()
    history = page.locator("#wb-history").inner_text()
    assert f"by {second}" in history and "by rui" in history


def _pending_id(page: Any, rule_id: str) -> str:
    """The id of the pending request of ``rule_id`` on the requests page."""
    row = page.locator("#wb-requests tbody tr", has_text=rule_id).first
    return str(row.get_attribute("id")).removeprefix("wb-pending-")


def test_models_tab_lists_versions_and_a_request_can_be_withdrawn(
    page: Any, served: Any, login: Callable[..., None], uid: Callable[[str], str]
) -> None:
    from datetime import timedelta

    from riskops.auth.permissions import Principal
    from riskops.learn import registry

    model_id = uid("wbm")
    now = utcnow()
    trained = registry.Trained(b"not a model", 0.5, now - timedelta(days=9), now, {"f1": 0.81})
    served.seed(lambda s: registry.register(s, Principal.system("tests"), model_id, trained))
    measured = {"test": {"f1": 0.9, "precision": 0.95, "recall": 0.86}, "stages": 2, "seed": 7}
    two = registry.Trained(b"not a model", 0.5, now - timedelta(days=9), now, measured)
    served.seed(lambda s: registry.register(s, Principal.system("tests"), model_id, two))
    login(page, "rui")
    page.goto("/workbench")
    page.keyboard.press("Tab")  # the tabs are links: reachable without a mouse
    page.click("#wb-tab-models")
    row = page.locator(f"#wb-model-{model_id}-1")
    while row.count() == 0 and page.locator("a[rel=next]").count():
        page.click("a[rel=next]")
    assert "draft" in row.inner_text() and "f1 0.81" in row.inner_text()
    # a trained version says what it scored on its test days, and its stages
    second = page.locator(f"#wb-model-{model_id}-2").inner_text()
    assert "test F1 0.9 · precision 0.95 · recall 0.86 · two stages" in second
    assert "seed" not in second
    form = page.locator(f"#wb-model-promote-{model_id}-1")
    form.locator("select").select_option("shadow")
    form.locator("input[name=why]").fill("watch it beside the rules")
    form.locator("button").click()
    page.wait_for_url("**tab=models&wb=requested")
    page.goto("/workbench/requests")
    request_id = _pending_id(page, model_id)
    withdraw = page.locator(f"#wb-reject-{request_id}")
    assert "Withdraw" in withdraw.inner_text()
    withdraw.locator("input[name=why]").fill("trained on the wrong span")
    withdraw.locator("button").click()
    page.wait_for_url("**/workbench/requests?wb=rejected")
    assert page.locator(f"#wb-pending-{request_id}").count() == 0
