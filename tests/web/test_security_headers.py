"""Security headers on every response; a console with nothing inline for the policy to
allow; email attachments served as downloads of their stored type."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from starlette.routing import Mount, Route

from riskops.auth.permissions import TOKEN_SCOPES, Role
from riskops.http.security import HEADERS, download_headers, download_type
from riskops.intake.service import receive_email
from riskops.kernel.config import Settings
from riskops.kernel.db import session_factory, unit_of_work
from riskops.web.app import create_app
from riskops.web.deps import Container
from support import api_login, bearer, make_user, token_for

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "riskops" / "web" / "templates"
STATIC = TEMPLATES.parent / "static"


@pytest.fixture
def client(engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(Container(Settings(data_dir=tmp_path), engine), start_background=False)
    with TestClient(app, follow_redirects=False) as client:
        yield client


def _assert_secured(answer: object, what: str) -> None:
    headers = answer.headers  # type: ignore[attr-defined]
    for name, value in HEADERS.items():
        if name == "Content-Security-Policy" and "sandbox" in headers.get(name, ""):
            continue  # a download's stricter policy
        assert headers.get(name) == value, f"{what}: {name} is {headers.get(name)!r}"
    assert "frame-ancestors 'none'" in headers["content-security-policy"], what


def _routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """``(method, path)`` of every route, into included routers (FastAPI keeps those as
    routes of their own, with the router and its include prefix)."""
    for route in routes:
        if isinstance(route, Route) and route.methods:
            path = prefix + re.sub(r"\{[^}]+\}", "1", route.path)
            yield from ((method, path) for method in sorted(route.methods))
        elif isinstance(route, Mount):
            yield ("GET", f"{prefix}{route.path}/console.css")
            yield ("GET", f"{prefix}{route.path}/no-such-file.js")
        elif hasattr(route, "original_router"):
            inner = prefix + getattr(route.include_context, "prefix", "")
            yield from _routes(route.original_router.routes, inner)


def _requests(client: TestClient) -> list[tuple[str, str]]:
    """One request per route of the app (path parameters filled with 1), static files,
    and a path that is no route."""
    found = sorted(set(_routes(client.app.routes)))  # type: ignore[attr-defined]
    return [*found, ("GET", "/no-such-route")]


def test_every_route_answers_with_the_security_headers(engine: Engine, client: TestClient) -> None:
    """Anonymous (401, redirects to the login page), with a token of every scope (200,
    403, 404, 422, ...), and with a console session, including the decision lane."""
    with unit_of_work(session_factory(engine)) as session:
        make_user(session, "max", Role.MANAGER)
    token = bearer(token_for(engine, sorted(TOKEN_SCOPES)))
    requests = _requests(client)
    assert len(requests) > 60  # every API route, the console's pages and forms, static files
    statuses = set()
    for method, path in requests:
        for headers in ({}, token):
            answer = client.request(method, path, headers=headers, content=b"{}")
            statuses.add(answer.status_code)
            _assert_secured(answer, f"{method} {path} ({'token' if headers else 'anonymous'})")
    csrf = api_login(client, "max")
    for method, path in requests:
        answer = client.request(method, path, headers={"X-CSRF-Token": csrf}, content=b"{}")
        statuses.add(answer.status_code)
        _assert_secured(answer, f"{method} {path} (session)")
    assert {200, 303, 401, 403, 404, 422} <= statuses


_INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "an inline <script>"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "an inline event handler"),
    (re.compile(r"\sstyle\s*=", re.I), "a style attribute"),
    (re.compile(r"<style\b", re.I), "a <style> element"),
    (re.compile(r"javascript:", re.I), "a javascript: URL"),
    (re.compile(r"\shx-on", re.I), "an htmx inline handler (hx-on)"),
]


@pytest.mark.parametrize("template", sorted(TEMPLATES.rglob("*.html")), ids=lambda p: p.name)
def test_console_templates_have_nothing_inline(template: Path) -> None:
    """The policy allows scripts and styles from files only (no 'unsafe-inline')."""
    text = template.read_text()
    found = [what for pattern, what in _INLINE if pattern.search(text)]
    assert found == [], f"{template.name} has {', '.join(found)}"


def test_the_policy_allows_nothing_inline_or_evaluated() -> None:
    policy = HEADERS["Content-Security-Policy"]
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert HEADERS["X-Frame-Options"] == "DENY"


def test_console_scripts_do_not_write_inline_handlers() -> None:
    script = (STATIC / "console.js").read_text()
    assert "eval(" not in script and "new Function" not in script
    assert not re.search(r"setAttribute\(\s*['\"](on[a-z]+|style)['\"]", script)


_NAMES = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=0, max_size=60
) | st.sampled_from(
    [
        "",
        " ",
        "..",
        "../../etc/passwd",
        "C:\\Windows\\evil.exe",
        'a"b.html',
        "x\r\nSet-Cookie: a=b",
        "<script>.html",
        "résumé ✓.pdf",
        "%00.txt",
    ]
)


@settings(max_examples=50, deadline=None)
@given(name=_NAMES)
def test_any_file_name_becomes_a_safe_download(name: str) -> None:
    headers = download_headers(name, "attachment-1")
    disposition = headers["Content-Disposition"]
    assert all(0x20 <= ord(c) < 0x7F for c in disposition), disposition
    match = re.fullmatch(
        r'attachment; filename="([A-Za-z0-9._ -]+)"; filename\*=UTF-8\'\'([A-Za-z0-9%._~-]*)',
        disposition,
    )
    assert match, disposition
    ascii_name, encoded = match.groups()
    assert ascii_name.strip("._ ")
    exact = unquote(encoded, errors="strict")
    assert "/" not in exact and "\\" not in exact
    expected = name.replace("\\", "/").rsplit("/", 1)[-1].strip() or "attachment-1"
    assert exact == expected
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in headers["Content-Security-Policy"]


@settings(max_examples=50, deadline=None)
@given(stored=st.one_of(st.none(), st.text(max_size=40)))
def test_a_download_type_is_the_stored_type_or_octet_stream(stored: str | None) -> None:
    kind = download_type(stored)
    assert re.fullmatch(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*", kind)
    base = (stored or "").split(";", 1)[0].strip().lower()
    assert kind in (base, "application/octet-stream")


@pytest.mark.parametrize(
    ("filename", "content_type", "body"),
    [
        ("<img src=x onerror=alert(1)>.html", "text/html", b"<script>alert(1)</script>"),
        ("logo.svg", "image/svg+xml", b"<svg onload='alert(1)'/>"),
        ("../../statement.pdf", "application/pdf", b"%PDF-1.4 not really"),
    ],
)
def test_an_attachment_is_a_download_of_its_stored_type(
    client: TestClient, engine: Engine, filename: str, content_type: str, body: bytes
) -> None:
    message = EmailMessage()
    message["From"] = "someone@bank.example"
    message["To"] = "risk@exchange.example"
    message["Subject"] = "see attached"
    message.set_content("please look at the attachment")
    maintype, subtype = content_type.split("/")
    message.add_attachment(body, maintype=maintype, subtype=subtype, filename=filename)
    with unit_of_work(session_factory(engine)) as session:
        received = receive_email(session, message.as_bytes(), channel="import")
    token = bearer(token_for(engine, ["case:view"]))
    answer = client.get(f"/v1/emails/{received.email_id}/attachments/1", headers=token)
    assert answer.status_code == 200, answer.text
    assert answer.content == body
    assert answer.headers["content-type"].split(";")[0] == content_type
    disposition = answer.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="')
    assert unquote(disposition.split("''", 1)[1]) == filename.rsplit("/", 1)[-1]
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["content-security-policy"].startswith("default-src 'none'; sandbox")
    assert answer.headers["x-frame-options"] == "DENY"
