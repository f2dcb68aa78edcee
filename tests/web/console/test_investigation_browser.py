"""The investigation in a browser (Playwright, Debian's chromium, the real app): pivot from
an IP on an account page to the accounts that used it and on to one of them; the link graph
draws its nodes and a click on one opens that account; the search box takes an IP, a phone,
an email and a name; a screening hit decided "not a match" stays decided across a rescreen;
a KYB review is decided on its case. Every page runs under the app's CSP (the ``page``
fixture fails a test on any violation)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from investigation_seed import Seeded, build, reload_list
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from sqlalchemy import select

from riskops.accounts.models import KycReview
from riskops.cases.models import CaseAlert
from riskops.kernel.db import session_factory, unit_of_work
from riskops.screening.models import Hit

ACCOUNT_NODES = "window.riskopsGraph.nodes(\"[type = 'account']\").length"


def _seed(served: Any, uid: Callable[[str], str], tmp_path: Path) -> Seeded:
    return build(session_factory(served.engine), uid("inv"), tmp_path / "lists")


def _case_of(served: Any, account: str, source: str) -> int:
    with unit_of_work(session_factory(served.engine)) as session:
        alert = session.scalars(
            select(CaseAlert).where(CaseAlert.account_id == account, CaseAlert.source == source)
        ).first()
        assert alert is not None and alert.case_id is not None, (account, source)
        return alert.case_id


def test_pivot_from_an_ip_to_the_accounts_that_used_it_and_on_to_one(
    page: Any, served: Any, login: Callable[..., None], uid: Callable[[str], str], tmp_path: Path
) -> None:
    seeded = _seed(served, uid, tmp_path)
    login(page, "ana")
    page.goto(f"/accounts/{seeded.a}")
    ip_link = page.locator(f'#intel-table a.pivot[href="/links?kind=ip&value={seeded.ip}"]')
    ip_link.click()
    page.wait_for_selector("#who-else-table")
    assert seeded.ip in page.locator("#who-else-value").inner_text()
    assert page.locator("#who-else-count").inner_text() == "2"
    rows = page.locator(".who-else-row")
    assert sorted(rows.evaluate_all("rs => rs.map(r => r.dataset.account)")) == sorted(
        [seeded.a, seeded.b]
    )
    b_row = page.locator(f'.who-else-row[data-account="{seeded.b}"]')
    assert "withdrawal lock" in b_row.inner_text()
    intel = page.locator("#value-intel")
    assert "Source:" in intel.inner_text()
    for link in intel.locator(".outside-links a").all():
        assert link.get_attribute("target") == "_blank"
        assert "noopener" in (link.get_attribute("rel") or "")
    # on with the keyboard: j selects the first row, Enter opens it
    page.keyboard.press("j")
    first = page.locator(".who-else-row.selected").get_attribute("data-account")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/accounts/{first}")
    other = seeded.b if first == seeded.a else seeded.a
    page.go_back()
    page.wait_for_selector("#who-else-table")
    page.locator(f'.who-else-row[data-account="{other}"] a').click()
    page.wait_for_url(f"**/accounts/{other}")
    assert other in page.locator("h1").inner_text()


def _click_node(page: Any, node: str, url: str) -> None:
    """Click a graph node where it is drawn, as a user would, and wait for ``url``.

    Cytoscape maps a click to the graph through the container's place on the page, which
    it caches until the page's next scroll or resize event; those events are dispatched on
    the next frame. So the graph is scrolled into view, two frames pass, and the cache is
    dropped (``cy.resize()``) before the node's place is read. A click lost to a frame that
    moved the page anyway (a busy machine) is retried from a fresh reading, twice at most:
    a tap that does not navigate fails all three.
    """
    graph = page.locator("#link-graph")
    graph.evaluate("el => el.scrollIntoView({block: 'center'})")  # the whole graph in view
    for attempt in range(3):
        page.evaluate(
            "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))"
        )
        page.wait_for_function("() => !window.riskopsGraph.animated()")
        page.evaluate("window.riskopsGraph.resize()")
        position = page.evaluate(f"window.riskopsGraph.getElementById('{node}').renderedPosition()")
        box = graph.bounding_box()
        page.mouse.click(box["x"] + position["x"], box["y"] + position["y"])
        try:
            page.wait_for_url(url, timeout=10_000)
            return
        except PlaywrightTimeout:
            if attempt == 2:
                raise


def test_the_graph_draws_one_and_two_hops_and_a_click_opens_an_account(
    page: Any, served: Any, login: Callable[..., None], uid: Callable[[str], str], tmp_path: Path
) -> None:
    seeded = _seed(served, uid, tmp_path)
    login(page, "ana")
    page.goto(f"/accounts/{seeded.a}")
    page.wait_for_selector('#link-graph[data-ready="1"]')
    assert page.evaluate(ACCOUNT_NODES) == 2  # a and b
    assert page.evaluate("window.riskopsGraph.nodes().length") > 2  # and the shared values
    assert "1 linked account" in page.locator("#graph-status").inner_text()
    page.click('[data-graph-hops="2"]')
    page.wait_for_selector('#link-graph[data-ready="2"]')
    assert page.evaluate(ACCOUNT_NODES) == 3  # c, through b's device
    _click_node(page, f"acct:{seeded.c}", f"**/accounts/{seeded.c}")
    assert seeded.c in page.locator("h1").inner_text()

    page.goto(f"/accounts/{seeded.d}")  # an account nobody shares a value with
    page.wait_for_selector('#link-graph[data-ready="1"]')
    assert page.evaluate(ACCOUNT_NODES) == 1
    assert "no linked accounts" in page.locator("#graph-status").inner_text()
    assert "No linked accounts" in page.locator("#linked-empty").inner_text()


def test_the_search_box_takes_an_ip_a_phone_an_email_and_a_name(
    page: Any, served: Any, login: Callable[..., None], uid: Callable[[str], str], tmp_path: Path
) -> None:
    seeded = _seed(served, uid, tmp_path)
    login(page, "ana")
    for query, kind in ((seeded.ip, "ip"), (seeded.phone, "phone"), (seeded.email, "email")):
        page.keyboard.press("/")
        page.keyboard.type(query)
        page.keyboard.press("Enter")
        page.wait_for_url(f"**/links?kind={kind}&value=*")
        assert page.locator("#who-else-count").inner_text() == "2", query
        assert seeded.b in page.locator("#who-else-table").inner_text()
    page.keyboard.press("/")
    page.keyboard.type(seeded.name.lower())
    page.keyboard.press("Enter")
    page.wait_for_selector("#search-results-table")
    assert seeded.a in page.locator("#search-results-table").inner_text()
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/accounts/{seeded.a}")


def test_not_a_match_is_remembered_across_a_rescreen(
    page: Any, served: Any, login: Callable[..., None], uid: Callable[[str], str], tmp_path: Path
) -> None:
    seeded = _seed(served, uid, tmp_path)
    case_id = _case_of(served, seeded.a, "screening")
    login(page, "ana")
    page.goto(f"/cases/{case_id}")
    hit = page.locator('#screening-review .screening-hit[data-status="open"]')
    assert seeded.name in hit.locator("h3").inner_text()
    hit_id = int(hit.get_attribute("data-hit"))
    form = page.locator(f"#hit-form-{hit_id}")
    form.locator('input[value="not_a_match"]').check()
    form.locator("textarea[name=note]").fill("born 1960 in GB: the entry is another person")
    form.locator("button[type=submit]").click()
    page.wait_for_url(f"**/cases/{case_id}?done=screened")
    assert "Screening decision recorded" in page.locator("#flash").inner_text()
    decided = page.locator(f"#hit-{hit_id}")
    assert decided.get_attribute("data-status") == "not_a_match"
    assert "another person" in decided.inner_text()

    assert reload_list(seeded, session_factory(served.engine), "Someone Else Entirely") > 0
    page.reload()
    assert page.locator("#screening-review .screening-hit").count() == 1
    assert page.locator(f"#hit-{hit_id}").get_attribute("data-status") == "not_a_match"
    assert page.locator("#screening-review form").count() == 0
    page.goto(f"/accounts/{seeded.a}")
    assert "0 open" in page.locator("#screening-panel").inner_text()
    with unit_of_work(session_factory(served.engine)) as session:
        hits = session.scalars(select(Hit).where(Hit.account_id == seeded.a)).all()
        assert [(h.id, str(h.status)) for h in hits] == [(hit_id, "not_a_match")]


def test_a_kyb_review_is_decided_on_its_case(
    page: Any, served: Any, login: Callable[..., None], uid: Callable[[str], str], tmp_path: Path
) -> None:
    seeded = _seed(served, uid, tmp_path)
    case_id = _case_of(served, seeded.d, "monitor")
    login(page, "sam")  # a senior analyst: kyc:review
    page.goto(f"/cases/{case_id}")
    review = page.locator("#kyc-review .kyc-review").first
    review_id = int(review.get_attribute("data-review"))
    owners = review.locator(".kyc-owners").inner_text()
    assert seeded.owner in owners and "60" in owners
    assert review.locator(".kyc-findings").count() == 1
    form = page.locator(f"#review-form-{review_id}")
    form.locator('input[value="approve"]').check()
    form.locator("textarea[name=note]").fill("owner's hit reviewed; registry extract matches")
    form.locator("button[type=submit]").click()
    page.wait_for_url(f"**/cases/{case_id}?done=kyc_decided")
    assert "KYC decision recorded" in page.locator("#flash").inner_text()
    decided = page.locator(f"#review-{review_id}")
    assert decided.get_attribute("data-status") == "approved"
    assert "registry extract" in decided.inner_text()
    assert page.locator(f"#review-form-{review_id}").count() == 0
    with unit_of_work(session_factory(served.engine)) as session:
        stored = session.get(KycReview, review_id)
        assert stored is not None and stored.decided_by == "sam"
