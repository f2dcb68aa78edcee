"""Every route's integers, and every route's body, bounded at the edge (ADR 0015).

The routes are enumerated from the app, so a route added later is covered too: its path
ids and query integers must carry the bounds of ``riskops.http.params`` (a database
integer: 0 to 2**63 - 1), and 2**63 or a negative id must answer 422, never 500. Bodies
that are not UTF-8, nest too deep, or carry NUL must answer 4xx on every route that
takes one.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy.engine import Engine

from riskops.kernel.bounds import MAX_DB_INT
from riskops.kernel.config import Settings
from riskops.kernel.db import session_factory, unit_of_work
from riskops.web.app import create_app
from riskops.web.deps import Container
from riskops.web.guard import url_problems
from support import api_login, make_user

with warnings.catch_warnings():  # starlette would rather have httpx2, which is not installed
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

_PARAM = re.compile(r"{(\w+)(?::\w+)?}")
# Routes that end the caller's session: called last by nothing here.
_SKIPPED = re.compile(r"logout")


def _routes(app: Any) -> Iterator[Any]:
    """Every route with a FastAPI dependant (included routers flattened)."""
    for route in app.routes:
        if hasattr(route, "dependant") and hasattr(route, "path"):
            yield route
        elif hasattr(route, "effective_candidates"):
            yield from _routes(_Routes(route.effective_candidates()))


class _Routes:
    def __init__(self, routes: Any) -> None:
        self.routes = list(routes)


def _int_params(route: Any) -> Iterator[tuple[str, Any]]:
    for kind, params in (
        ("path", route.dependant.path_params),
        ("query", route.dependant.query_params),
    ):
        for param in params:
            if param.field_info.annotation in (int, int | None):
                yield kind, param


def _bounds(param: Any) -> tuple[Any, Any]:
    ge = [m.ge for m in param.field_info.metadata if getattr(m, "ge", None) is not None]
    le = [m.le for m in param.field_info.metadata if getattr(m, "le", None) is not None]
    return (ge[0] if ge else None), (le[0] if le else None)


@pytest.fixture
def app() -> Any:
    return create_app(Container(Settings(), _unused_engine()), start_background=False)


def _unused_engine() -> Engine:
    from sqlalchemy import create_engine

    return create_engine("sqlite://")


def test_every_integer_parameter_is_a_bounded_database_integer(app: Any) -> None:
    seen = 0
    for route in _routes(app):
        for kind, param in _int_params(route):
            ge, le = _bounds(param)
            where = f"{route.path} {kind} {param.name}"
            assert ge is not None and ge >= 0, f"{where}: no lower bound (use riskops.http.params)"
            assert le is not None and le <= MAX_DB_INT, f"{where}: no upper bound"
            seen += 1
    assert seen > 40  # the enumeration found the routes


@pytest.fixture
def admin(engine: Engine, tmp_path: Any) -> Iterator[TestClient]:
    with unit_of_work(session_factory(engine)) as session:
        make_user(session, "root", "admin")
    # The signed inbound endpoints configured (unconfigured, they answer 503 to anything).
    settings = Settings(data_dir=tmp_path, sms_inbound_secret="bounds")
    application = create_app(Container(settings, engine), start_background=False)
    with TestClient(application, raise_server_exceptions=False) as client:
        api_login(client, "root", sticky=True)
        yield client


def _calls(app: Any, value: int) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(method, path, query) for every route, with ``value`` in each integer parameter in
    turn (every other integer path parameter 1, every other path parameter a word)."""
    for route in _routes(app):
        if _SKIPPED.search(route.path):
            continue
        ints = list(_int_params(route))
        names = {param.name for _, param in ints}
        for method in sorted(route.methods or ()):
            for kind, param in ints:
                filled = {name: "1" for name in names} | {param.name: str(value)}
                path = _PARAM.sub(lambda m, f=filled: f.get(m.group(1), "x"), route.path)
                query = {param.alias: str(value)} if kind == "query" else {}
                yield method, path, query


def test_integers_out_of_range_are_422_on_every_route(admin: TestClient) -> None:
    answers = {}
    for value in (2**63, -1):  # one app for both: each route's setup costs more than a call
        for method, path, query in _calls(admin.app, value):
            response = admin.request(
                method, path, params=query, json={} if method != "GET" else None
            )
            answers[(method, path, str(query))] = response.status_code
    assert len(answers) > 80
    wrong = {call: status for call, status in answers.items() if status != 422}
    assert not wrong, f"not 422: {wrong}"


_MALFORMED = {
    "not UTF-8": b'{"text": "\xff\xfe"}',
    "nested 40 deep": b'{"a": ' + b"[" * 40 + b"]" * 40 + b"}",
    "nested 5,000 deep": b"[" * 5_000 + b"]" * 5_000,
    "NUL in a string": b'{"comment": "a\\u0000", "text": "a\\u0000", "reason": "a\\u0000"}',
    "number beyond range": b'{"user_id": 1e400, "hold_id": 18446744073709551616}',
    "wrong type for a tag": b'{"type": {}, "action": {}, "kind": []}',
}


def test_malformed_bodies_are_4xx_on_every_route(admin: TestClient) -> None:
    answers = {}
    for what, body in _MALFORMED.items():
        for route in _routes(admin.app):
            methods = set(route.methods or ()) - {"GET", "HEAD"}
            if not methods or _SKIPPED.search(route.path):
                continue
            path = _PARAM.sub("1", route.path)
            for method in methods:
                response = admin.request(
                    method, path, content=body, headers={"content-type": "application/json"}
                )
                answers[(what, method, path)] = response.status_code
    assert len(answers) > 20 * len(_MALFORMED)
    wrong = {call: status for call, status in answers.items() if status >= 500}
    assert not wrong, f"5xx: {wrong}"


def _text_calls(app: Any, value: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(method, path, query) for every route, with ``value`` in each text parameter (path
    or query) in turn; integer path parameters 1, other text path parameters a word."""
    for route in _routes(app):
        if _SKIPPED.search(route.path):
            continue
        params = [("path", p) for p in route.dependant.path_params]
        params += [("query", p) for p in route.dependant.query_params]
        texts = [(k, p) for k, p in params if p.field_info.annotation in (str, str | None)]
        for method in sorted(route.methods or ()):
            for kind, param in texts:
                filled = {name: "1" for name in _PARAM.findall(route.path)}
                if kind == "path":
                    filled[param.name] = quote(value, safe="")
                path = _PARAM.sub(lambda m, f=filled: f[m.group(1)], route.path)
                yield method, path, {param.alias: value} if kind == "query" else {}


def test_control_characters_in_any_text_parameter_are_400(admin: TestClient) -> None:
    answers = {}
    for method, path, query in _text_calls(admin.app, "a\x00b"):
        response = admin.request(method, path, params=query, json={} if method != "GET" else None)
        answers[(method, path, str(query))] = (response.status_code, response.json().get("details"))
    assert len(answers) > 10
    wrong = {call: answer for call, answer in answers.items() if answer[0] != 400}
    assert not wrong, f"not 400: {wrong}"
    assert all(
        details and details[0]["reason"].startswith("contains the control character U+0000")
        for _, details in answers.values()
    )


def test_url_problems() -> None:
    assert url_problems("/accounts/a b", b"q=caf%C3%A9&x=") == []
    assert url_problems("/accounts/a\x00", b"") == [
        {"field": "path", "reason": "contains the control character U+0000 at 11"}
    ]
    assert url_problems("/", b"q=%ff") == [{"field": "query", "reason": "not UTF-8"}]
    assert url_problems("/", b"account_id=a%0Ab")[0]["field"] == "query.account_id"
