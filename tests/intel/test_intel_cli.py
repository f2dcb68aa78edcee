"""``riskops intel lookup|mismatch|sources``: JSON for scripts, never a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import typer
from typer.testing import CliRunner

from riskops.intel import cli as intel_cli
from riskops.intel.service import default_service
from riskops.kernel.config import get_settings


@pytest.fixture
def runner_app(ip_data_root: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[typer.Typer]:
    monkeypatch.setenv("RISKOPS_INTEL_DATA_DIR", str(ip_data_root))
    get_settings.cache_clear()
    default_service.cache_clear()
    app = typer.Typer()
    intel_cli.register(app)
    yield app
    get_settings.cache_clear()
    default_service.cache_clear()


def _run(app: typer.Typer, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["intel", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def test_lookup_an_ip_as_json(runner_app: typer.Typer) -> None:
    code, out = _run(runner_app, "lookup", "8.8.8.8", "--json")
    data = orjson.loads(out)
    assert code == 0
    assert (data["kind"], data["country"], data["asn"]) == ("ip", "US", 15169)
    assert any(s.get("credit") == "IP Geolocation by DB-IP" for s in data["sources"])


def test_lookup_an_address_and_an_email(runner_app: typer.Typer) -> None:
    _, out = _run(runner_app, "lookup", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "--json")
    data = orjson.loads(out)
    assert (data["kind"], data["chain"], data["valid"]) == ("address", "bitcoin", True)
    _, out = _run(runner_app, "lookup", "someone@mailinator.com", "--json")
    data = orjson.loads(out)
    assert (data["kind"], data["disposable"]) == ("email", True)


@pytest.mark.parametrize("value", ["", "x" * 10_000, "مرحبا", "Привет", "你好", "0xZZ", "::g"])
def test_bad_input_prints_a_clear_answer(runner_app: typer.Typer, value: str) -> None:
    code, out = _run(runner_app, "lookup", value, "--json")
    assert code == 0
    data = orjson.loads(out)
    assert data["kind"] in {"unknown", "address"}
    assert data.get("reason")


def test_human_output_names_the_credit(runner_app: typer.Typer) -> None:
    code, out = _run(runner_app, "lookup", "8.8.8.8")
    assert code == 0
    assert "country: US" in out
    assert "IP Geolocation by DB-IP" in out


def test_mismatch(runner_app: typer.Typer) -> None:
    code, out = _run(runner_app, "mismatch", "--kyc", "DE", "--phone", "+447400123456", "--json")
    data = orjson.loads(out)
    assert code == 0
    assert data["countries"] == {"kyc": "DE", "phone": "GB"}
    assert data["mismatches"][0]["reason"] == "KYC country is DE, phone is GB"


def test_sources(runner_app: typer.Typer) -> None:
    _, out = _run(runner_app, "sources", "--json")
    names = [s["name"] for s in orjson.loads(out)["sources"]]
    assert any(n.startswith("DB-IP City Lite") for n in names)
    assert any(n.startswith("phonenumbers") for n in names)
