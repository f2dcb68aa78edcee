"""``GET /v1/intel``: the same answer as the CLI, behind ``account:view``."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from riskops.intel import api as intel_api
from riskops.intel.addresses import CHAINS
from riskops.intel.detect import KINDS
from riskops.intel.service import default_service
from riskops.kernel.config import Settings, get_settings
from riskops.web.app import create_app
from riskops.web.deps import Container
from support import bearer, migrated_engine, token_for

with warnings.catch_warnings():  # starlette would rather have httpx2, which is not installed
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


@pytest.fixture(scope="module")
def app_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """One migrated SQLite database for the module: the route reads none of it but the
    caller's token (each test building an app would cost seconds)."""
    with migrated_engine("sqlite", tmp_path_factory.mktemp("db")) as engine:
        yield engine


@pytest.fixture(scope="module")
def client(
    app_engine: Engine, tmp_path_factory: pytest.TempPathFactory, ip_data_root: Path
) -> Iterator[Any]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RISKOPS_INTEL_DATA_DIR", str(ip_data_root))
        get_settings.cache_clear()
        default_service.cache_clear()
        data_dir = tmp_path_factory.mktemp("data")
        app = create_app(Container(Settings(data_dir=data_dir), app_engine))
        with TestClient(app) as test_client:
            yield test_client
    get_settings.cache_clear()
    default_service.cache_clear()


@pytest.fixture(scope="module")
def viewer(app_engine: Engine) -> dict[str, str]:
    return bearer(token_for(app_engine, ["account:view"]))


def test_an_ip(client: Any, viewer: dict[str, str]) -> None:
    answer = client.get("/v1/intel", params={"value": "8.8.8.8"}, headers=viewer)
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert (data["kind"], data["country"], data["asn"]) == ("ip", "US", 15169)
    assert any(s.get("credit") == "IP Geolocation by DB-IP" for s in data["sources"])


def test_a_tx_id_with_its_chain(client: Any, viewer: dict[str, str]) -> None:
    tx = "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b"
    answer = client.get("/v1/intel", params={"value": tx, "chain": "bitcoin"}, headers=viewer)
    assert answer.json()["chains"] == ["bitcoin"]


@pytest.mark.parametrize("value", ["مرحبا", "Привет", "你好", "0xZZ", "bc1qnotvalid"])
def test_bad_values_are_answers_not_errors(client: Any, viewer: dict[str, str], value: str) -> None:
    answer = client.get("/v1/intel", params={"value": value}, headers=viewer)
    assert answer.status_code == 200
    assert answer.json()["kind"] in {"unknown", "address"}


@pytest.mark.parametrize(
    "params", [{}, {"value": ""}, {"value": "x" * 513}, {"value": "1.1.1.1", "kind": "bogus"}]
)
def test_unreadable_queries_are_422(client: Any, viewer: dict[str, str], params: Any) -> None:
    answer = client.get("/v1/intel", params=params, headers=viewer)
    assert answer.status_code == 422
    assert answer.json()["error"]


def test_needs_a_caller_with_account_view(client: Any, app_engine: Engine) -> None:
    assert client.get("/v1/intel", params={"value": "8.8.8.8"}).status_code == 401
    other = bearer(token_for(app_engine, ["event:ingest"], name="ingest"))
    answer = client.get("/v1/intel", params={"value": "8.8.8.8"}, headers=other)
    assert answer.status_code == 403


def test_the_query_enums_are_the_service_lists() -> None:
    assert {k.value for k in intel_api.IntelKind} == set(KINDS)
    assert {c.value for c in intel_api.IntelChain} == set(CHAINS)
