"""The OpenAPI document is true: a bounded schemathesis run over every operation.

Each operation of ``/openapi.json`` gets a few generated requests that fit the document
(positive) and a few that do not (negative), sent to the app in process, authenticated the
way that operation expects: an API token holding every scope, or a console session (cookie
and CSRF token) of an administrator or a manager for the routes only people may use. Every
answer must pass schemathesis' checks: no 5xx, only documented status codes, bodies and
content types as documented, valid requests accepted, invalid ones refused.

Bounded and deterministic (fixed seed, a handful of examples each) so it belongs in
``make test``; it runs on SQLite (the document does not depend on the database).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url

from riskops.auth.http import CSRF_HEADER, SESSION_COOKIE
from riskops.auth.permissions import TOKEN_SCOPES, Role
from riskops.http.openapi import RULES
from riskops.kernel.config import Settings
from riskops.kernel.db import make_engine, session_factory, unit_of_work
from riskops.web.app import create_app
from riskops.web.deps import Container
from support import DEFAULT_PASSWORD, make_user, migrated_engine, token_for

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

EXAMPLES = 5  # per operation and mode: ~50 operations x 2 modes in about a minute
ADMIN, MANAGER = "zz-conformance-admin", "zz-conformance-manager"
# Routes only a person may use (no token scope grants them), and whose role does.
_ADMIN_PATHS = ("/v1/users", "/v1/tokens")
_MANAGER_PATHS = ("/v1/audit", "/v1/queues", "/v1/shifts", "/v1/cases", "/v1/approvals", "/v1/qa")
_SESSION_PATHS = ("/v1/auth/me",)
# Far above anything generated ids will hit, so no generated PATCH or DELETE disables the
# users or revokes the token the run authenticates with.
_ID_OFFSET = 10_000_000
SMS_SECRET = "conformance-sms-secret"  # configured, so the SMS route answers as in production


def _cases() -> list[Any]:
    """``(METHOD path, mode)`` of every documented operation (read from a throwaway app):
    requests that fit the document, and, where there is input, requests that do not."""
    app = create_app(
        Container(Settings(), make_engine(str(make_url("sqlite://")))), start_background=False
    )
    found = []
    for path, item in sorted(app.openapi()["paths"].items()):
        for method, operation in sorted(item.items()):
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            label = f"{method.upper()} {path}"
            found.append(pytest.param(label, GenerationMode.POSITIVE, id=f"{label} positive"))
            if operation.get("parameters") or operation.get("requestBody"):
                negative = GenerationMode.NEGATIVE
                found.append(pytest.param(label, negative, id=f"{label} negative"))
    return found


@dataclass(frozen=True)
class Credentials:
    token: str
    sessions: dict[str, tuple[str, str]]  # username -> (cookie, csrf token)

    def for_path(self, path: str) -> dict[str, Any]:
        """What ``case.call`` needs to authenticate an operation the way its route expects."""
        if path.startswith(_ADMIN_PATHS):
            return self._session(ADMIN)
        if path.startswith(_MANAGER_PATHS + _SESSION_PATHS):
            return self._session(MANAGER)
        return {"headers": {"Authorization": f"Bearer {self.token}"}}

    def _session(self, username: str) -> dict[str, Any]:
        cookie, csrf = self.sessions[username]
        return {"headers": {CSRF_HEADER: csrf}, "cookies": {SESSION_COOKIE: cookie}}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Credentials]]:
    """The app on a migrated SQLite database, its schema and the run's credentials."""
    with migrated_engine("sqlite", tmp_path_factory.mktemp("openapi")) as engine:
        credentials = _seed(engine)
        app = create_app(
            Container(
                Settings(
                    data_dir=tmp_path_factory.mktemp("data"),
                    sms_hmac_secret=SMS_SECRET,
                    sms_inbound_secret=SMS_SECRET,
                ),
                engine,
            ),
            start_background=False,
        )
        with TestClient(app) as client:
            sessions = {}
            for name in (ADMIN, MANAGER):
                answer = client.post(
                    "/v1/auth/login", json={"username": name, "password": DEFAULT_PASSWORD}
                )
                assert answer.status_code == 200, answer.text
                sessions[name] = (answer.cookies[SESSION_COOKIE], answer.json()["csrf_token"])
            yield (
                schemathesis.openapi.from_asgi("/openapi.json", app),
                Credentials(credentials, sessions),
            )


def _seed(engine: Engine) -> str:
    with unit_of_work(session_factory(engine)) as session:
        make_user(session, ADMIN, Role.ADMIN)
        make_user(session, MANAGER, Role.MANAGER)
    token = token_for(engine, sorted(TOKEN_SCOPES), name="zz-conformance")
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE auth_users SET id = id + {_ID_OFFSET}"))
        conn.execute(text(f"UPDATE auth_api_tokens SET id = id + {_ID_OFFSET}"))
    return token


@pytest.mark.parametrize(("label", "mode"), _cases())
def test_operation_conforms_to_the_document(
    api: tuple[Any, Credentials], label: str, mode: GenerationMode
) -> None:
    schema, credentials = api
    method, path = label.split(" ", 1)
    operation = schema[path][method]
    auth = credentials.for_path(path)
    declared = {rule["field"] for rule in operation.definition.raw.get(RULES, [])}

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        case = data.draw(operation.as_strategy(generation_mode=mode))
        if "cookies" in auth and case.headers:
            # The document offers a bearer token too; a generated one would be tried first.
            case.headers.pop("Authorization", None)
        if mode is GenerationMode.POSITIVE and declared:
            # Rules the document states but a JSON schema cannot: a 422 naming only such
            # fields is the document's own answer; anything else is checked as usual.
            answer = case.call(**auth)
            fields = _refused_fields(answer)
            if answer.status_code == 422 and fields <= declared:
                excluded = [positive_data_acceptance]
            else:
                excluded = []
            case.validate_response(
                answer,
                excluded_checks=excluded,
                headers=auth["headers"],
                transport_kwargs=auth,
            )
            return
        case.call_and_validate(**auth)

    try:
        run()
    except Unsatisfiable:
        # The document allows any input here (POST /v1/events takes any body and answers
        # each item): there is no request that does not fit it.
        assert mode is GenerationMode.NEGATIVE, "no request fits the document"
        pytest.skip("every request fits the document: nothing to refuse")
    except FailureGroup as failures:
        pytest.fail(_summary(failures), pytrace=False)


def _refused_fields(answer: Any) -> set[str]:
    """The fields a 422 names (``$`` when it names none)."""
    try:
        body = answer.json()
    except ValueError:
        return set()
    details = body.get("details") if isinstance(body, dict) else None
    if not isinstance(details, list) or not details:
        return {"$"}
    return {d.get("field", "$") for d in details if isinstance(d, dict)}


def _summary(failures: FailureGroup) -> str:
    """What schemathesis found, without the exception-group tracebacks around it."""
    return str(failures).split("\n\n (", 1)[0]
