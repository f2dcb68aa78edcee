"""``GET /v1/accounts/{id}/links``, ``GET /v1/links``, ``GET /v1/accounts/{id}/graph``."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from links_fakes import created, transfer
from sqlalchemy.engine import Engine

from riskops.kernel.config import Settings
from riskops.kernel.db import session_factory, unit_of_work
from riskops.links import api as links_api
from riskops.links.keeper import LinkKeeper
from riskops.web.app import create_app
from riskops.web.deps import Container
from support import bearer, migrated_engine, token_for

with warnings.catch_warnings():  # starlette would rather have httpx2, which is not installed
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@pytest.fixture(scope="module")
def app_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with migrated_engine("sqlite", tmp_path_factory.mktemp("db")) as engine:
        events = [
            created("1", "a", device="dev-1", phone="+1 555 0101", minutes=1),
            created("2", "b", device="dev-1", minutes=2),
            created("3", "c", phone="+15550101", minutes=3),
            transfer("4", "b", "d", minutes=4),
        ]
        with unit_of_work(session_factory(engine)) as session:
            LinkKeeper().record(session, [(e, i) for i, e in enumerate(events, 1)])
        yield engine


@pytest.fixture(scope="module")
def client(app_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    app = create_app(Container(Settings(data_dir=tmp_path_factory.mktemp("data")), app_engine))
    if not any(getattr(r, "path", None) == "/v1/links" for r in app.routes):
        links_api.include(app)  # until web/app.py wires it
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def viewer(app_engine: Engine) -> dict[str, str]:
    return bearer(token_for(app_engine, ["account:view"], name="viewer"))


def test_linked_accounts(client: Any, viewer: dict[str, str]) -> None:
    answer = client.get("/v1/accounts/a/links", params={"hops": 2}, headers=viewer)
    assert answer.status_code == 200, answer.text
    items = {i["account_id"]: i for i in answer.json()["items"]}
    assert {k: (v["hop"], v["via"]) for k, v in items.items()} == {
        "b": (1, None),
        "c": (1, None),
        "d": (2, "b"),
    }
    assert answer.json()["cluster_id"] == "a"


def test_who_else_and_the_graph(client: Any, viewer: dict[str, str]) -> None:
    who = client.get("/v1/links", params={"kind": "phone", "value": "+1-555-0101"}, headers=viewer)
    assert who.status_code == 200, who.text
    assert [u["account_id"] for u in who.json()["items"]] == ["a", "c"]
    graph = client.get("/v1/accounts/b/graph", headers=viewer)
    assert graph.status_code == 200
    ids = {n["data"]["id"] for n in graph.json()["nodes"]}
    assert ids == {"acct:a", "acct:b", "acct:d", "val:device:dev-1"}


@pytest.mark.parametrize(
    "params",
    [
        {"kind": "colour", "value": "x"},
        {"kind": "ip", "value": "not-an-ip"},
        {"kind": "ip", "value": "1.2.3.4\x00"},
        {"kind": "email", "value": "x" * 10_000},
    ],
)
def test_bad_input_is_a_422_never_a_500(
    client: Any, viewer: dict[str, str], params: dict[str, str]
) -> None:
    answer = client.get("/v1/links", params=params, headers=viewer)
    # a NUL is refused by the app's URL guard (400) before the route; the rest by the route
    assert answer.status_code == (400 if "\x00" in params["value"] else 422), answer.text
    assert answer.json()["error"]


def test_hops_are_bounded_and_a_token_without_account_view_is_refused(
    client: Any, app_engine: Engine, viewer: dict[str, str]
) -> None:
    assert client.get("/v1/accounts/a/links?hops=3", headers=viewer).status_code == 422
    other = bearer(token_for(app_engine, ["event:ingest"], name="ingest"))
    assert client.get("/v1/accounts/a/links", headers=other).status_code == 403
    assert client.get("/v1/accounts/a/graph").status_code == 401
