"""``riskops publish``: a file's valid rows go to the stream, bad rows are reported with
their reasons (never published), a file that cannot be read is a clear error."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from cluster_support import unique
from typer.testing import CliRunner

from riskops.cluster.cli import register
from riskops.kernel.config import get_settings
from support import drop_stream


@pytest.fixture
def app(
    nats_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[typer.Typer, str]]:
    stream, subject = unique("pub")
    monkeypatch.setenv("RISKOPS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("RISKOPS_NATS_URL", nats_url)
    monkeypatch.setenv("RISKOPS_NATS_STREAM", stream)
    monkeypatch.setenv("RISKOPS_NATS_SUBJECT", subject)
    get_settings.cache_clear()
    cli = typer.Typer()
    register(cli)
    try:
        yield cli, stream
    finally:
        get_settings.cache_clear()
        drop_stream(nats_url, stream)


def _event(n: int) -> dict[str, object]:
    return {
        "event_id": f"e{n}",
        "type": "login",
        "account_id": f"acc-{n % 7}",
        "occurred_at": "2026-01-01T00:00:00Z",
        "ip": "203.0.113.9",
        "success": True,
    }


def _stream_count(nats_url: str, stream: str) -> int:
    async def count() -> int:
        import nats

        nc = await nats.connect(nats_url)
        try:
            info = await nc.jetstream().stream_info(stream)
            return int(info.state.messages)
        finally:
            await nc.close()

    return asyncio.run(count())


def test_bad_rows_are_reported_and_not_published(
    app: tuple[typer.Typer, str], nats_url: str, tmp_path: Path
) -> None:
    cli, stream = app
    lines = [json.dumps(_event(n)) for n in range(5)]
    lines.insert(2, "{not json")
    lines.insert(4, json.dumps({**_event(9), "occurred_at": "yesterday"}))
    path = tmp_path / "events.ndjson"
    path.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(cli, ["publish", str(path), "--partitions", "2"])
    assert result.exit_code == 2, result.output
    assert "published 5" in result.output and "rejected 2" in result.output
    assert "row 2:" in result.output and "occurred_at" in result.output
    assert "Traceback" not in result.output
    assert _stream_count(nats_url, stream) == 5
    again = CliRunner().invoke(cli, ["publish", str(path), "--partitions", "2"])
    assert "published 0" in again.output and "by the server 5" in again.output
    assert _stream_count(nats_url, stream) == 5


def test_an_unreadable_file_is_a_clear_error(app: tuple[typer.Typer, str], tmp_path: Path) -> None:
    cli, _ = app
    cut = tmp_path / "events.ndjson.gz"
    cut.write_bytes(gzip.compress(b'{"event_id": "x"}\n' * 100)[:40])
    result = CliRunner().invoke(cli, ["publish", str(cut)])
    assert result.exit_code == 1, result.output
    assert "error:" in result.output and "Traceback" not in result.output
    unknown = tmp_path / "events.bin"
    unknown.write_bytes(b"\x00\x01")
    result = CliRunner().invoke(cli, ["publish", str(unknown)])
    assert result.exit_code == 2 and "format" in result.output
