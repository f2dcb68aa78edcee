"""/docs in Chromium with the internet out of reach: Swagger UI renders the operations from
the app's own assets, under whatever Content-Security-Policy the app sends."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

LOCAL = {"127.0.0.1", "localhost"}


def test_docs_render_the_operations_with_the_internet_unreachable(context: Any) -> None:
    outside: list[str] = []

    def only_local(route: Any) -> None:
        if urlsplit(route.request.url).hostname in LOCAL:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort("internetdisconnected")

    context.route("**/*", only_local)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(request.url))

    response = page.goto("/docs")
    assert response is not None and response.status == 200
    # It runs under the app's Content-Security-Policy, which allows no inline script.
    policy = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    page.wait_for_selector(".opblock-summary-path")
    paths = set(page.locator(".opblock-summary-path").all_inner_texts())
    assert {"/v1/decisions", "/v1/events", "/v1/holds"} <= {p.strip() for p in paths}
    assert page.locator(".information-container .title").inner_text().startswith("riskops")

    # An operation opens and shows its request body's schema (the bundle works, not just
    # the first paint), still without leaving the machine.
    page.locator(".opblock-summary-path", has_text="/v1/decisions").first.click()
    page.wait_for_selector(".opblock.is-open .opblock-section-request-body")

    assert outside == [], f"/docs tried to reach the internet: {outside}"
    assert failed == [], f"requests that failed: {failed}"
    assert errors == [], f"errors in the page: {errors}"
