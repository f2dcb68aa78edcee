"""The QA review in a browser (Playwright, Debian's chromium, the real app): a senior analyst
opens a sample from the QA queue, disagrees with the keyboard (d, then the reason), and the
analyst who decided the case finds the disagreement on "My work" and on the case page."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from riskops.auth.permissions import Principal
from riskops.cases.models import CaseOutcome
from riskops.kernel.clock import utcnow
from riskops.qa import repository, service
from riskops.qa.schemas import PlanIn

# The QA tests' fixture of a closed case (tests/qa/qa_fakes.py), by path: this test runs on
# the console's browser fixtures, which are this directory's, and a second copy of them in
# tests/qa would start a second Playwright in the same process (its loop left running).
_fakes_path = Path(__file__).resolve().parents[2] / "qa" / "qa_fakes.py"
_spec = importlib.util.spec_from_file_location("qa_fakes", _fakes_path)
assert _spec is not None and _spec.loader is not None
_fakes = sys.modules.get("qa_fakes") or importlib.util.module_from_spec(_spec)
if "qa_fakes" not in sys.modules:
    sys.modules["qa_fakes"] = _fakes
    _spec.loader.exec_module(_fakes)
closed_case = _fakes.closed_case

SYSTEM = Principal.system("tests")


def _sampled_case(session: Session) -> tuple[int, int]:
    """A case ana dismissed, sampled (a plan that samples every case)."""
    service.save_plan(session, SYSTEM, PlanIn(base_rate=1.0, seed="browser"))
    case = closed_case(
        session,
        analyst="ana",
        outcome=CaseOutcome.DISMISSED,
        closed_at=utcnow() - timedelta(hours=1),
    )
    service.sample_all(session, SYSTEM)
    sample = repository.sample_of_case(session, case.id)
    assert sample is not None
    return sample.id, case.id


def test_a_reviewer_disagrees_with_the_keyboard_and_the_analyst_sees_it(
    page: Any, served: Any, login: Callable[..., None]
) -> None:
    sample_id, case_id = served.seed(_sampled_case)
    login(page, "sam")
    page.goto("/qa")
    row = page.locator(f"#qa-sample-{sample_id}")
    assert "ana" in row.inner_text()
    row.locator(f'a[href="/qa/{sample_id}"]').click()
    page.wait_for_selector("#qa-review-form")
    assert "The analyst's note" in page.locator("#qa-note").inner_text()
    page.keyboard.press("a")
    assert page.locator("#verdict-agree").is_checked()
    page.keyboard.press("d")
    assert page.locator("#verdict-disagree").is_checked()
    assert page.evaluate("document.activeElement.id") == "qa-reason"
    page.keyboard.type("the deposits fan out to three mule accounts")
    page.select_option("#qa-outcome", "restricted")
    page.click("#qa-submit")
    page.wait_for_url("**/qa?qa=reviewed")
    assert "Review recorded." in page.locator("#flash").inner_text()
    assert page.locator(f"#qa-sample-{sample_id}").count() == 0

    page.context.clear_cookies()
    login(page, "ana")
    page.goto("/my")
    mine = page.locator(f"#qa-mine-{sample_id}")
    mine.wait_for()
    assert "three mule accounts" in mine.inner_text()
    assert "restricted" in mine.inner_text()
    page.goto(f"/cases/{case_id}")
    panel = page.locator("#case-qa")
    panel.locator("#qa-verdict").wait_for()
    assert "disagreed" in panel.inner_text()
    page.goto("/my")
    page.locator(f"#qa-mine-{sample_id} button").click()
    page.wait_for_url("**/my")
    page.locator("#qa-mine").wait_for(state="attached")
    assert page.locator(f"#qa-mine-{sample_id}").count() == 0
