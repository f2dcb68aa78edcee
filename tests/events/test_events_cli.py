"""``riskops ingest`` and ``riskops dead-letters`` end to end (SQLite from the settings)."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from typer.testing import CliRunner

from riskops.cli import app


def test_ingest_then_list_dead_letters(data_dir: Path, wire: Callable[..., Any]) -> None:
    path = data_dir / "batch.jsonl"
    lines = [msgspec.json.encode(wire(i)) for i in range(50)] + [b'{"type": "nope"}']
    path.write_bytes(b"\n".join(lines))
    runner = CliRunner()
    first = runner.invoke(app, ["ingest", str(path)])
    assert first.exit_code == 0, first.output
    assert "accepted 50  duplicates 0  rejected 1" in first.output
    again = runner.invoke(app, ["ingest", str(path), "--format", "ndjson"])
    assert "accepted 0  duplicates 50  rejected 1" in again.output
    listed = runner.invoke(app, ["dead-letters", "--json"])
    assert listed.exit_code == 0, listed.output
    letters = [msgspec.json.decode(line) for line in listed.stdout.splitlines()]
    # The re-run refused the same line again: still one dead letter (ADR 0017).
    assert [(d["source"], d["source_name"], d["source_row"]) for d in letters] == [
        ("file", "batch.jsonl", 50)
    ]
    assert "unknown event type 'nope'" in letters[0]["reason"]
    assert (letters[0]["raw"], letters[0]["raw_base64"]) == ('{"type": "nope"}', None)
    table = runner.invoke(app, ["dead-letters", "--limit", "1"])
    assert "1 in all" in table.output and "batch.jsonl" in table.output


def test_ingest_unknown_format_fails_clearly(data_dir: Path) -> None:
    path = data_dir / "events.xlsx"
    path.write_bytes(b"")
    result = CliRunner().invoke(app, ["ingest", str(path)])
    assert result.exit_code == 2
    assert "cannot tell the format of events.xlsx" in result.output


def test_ingest_of_a_file_that_cannot_be_read_says_so_and_what_was_stored(
    data_dir: Path, wire: Callable[..., Any]
) -> None:
    not_parquet = data_dir / "events.parquet"
    not_parquet.write_bytes(b"hello")
    result = CliRunner().invoke(app, ["ingest", str(not_parquet)])
    assert result.exit_code == 1
    assert "events.parquet is not a readable Parquet file" in result.output
    assert "stored" not in result.output  # refused before anything was read

    cut = data_dir / "events.ndjson.gz"
    whole = gzip.compress(b"\n".join(msgspec.json.encode(wire(i)) for i in range(30)))
    cut.write_bytes(whole[: len(whole) - 12])  # the stream's end is missing
    result = CliRunner().invoke(app, ["ingest", str(cut)])
    assert result.exit_code == 1
    assert "events.ndjson.gz: cannot read past data row 0" in result.output
    assert "0 rows before it were stored" in result.output
    assert "Traceback" not in result.output


@pytest.mark.postgres
def test_bulk_writers_end_idle_transactions_on_every_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``ingest`` and ``consume-nats`` open the database as bulk writers: every connection,
    the one that ran the migrations included, has PostgreSQL end it when idle in a
    transaction (ADR 0017); other commands keep the server's default."""
    from processes import database_url
    from riskops.events.cli import _sessions
    from riskops.kernel.config import get_settings
    from riskops.kernel.db import IDLE_IN_TRANSACTION_SECONDS
    from support import migrated_engine

    def limits(sessions: Any) -> set[str]:
        with sessions() as first, sessions() as second:  # two connections of the pool
            show = "SHOW idle_in_transaction_session_timeout"
            return {s.connection().exec_driver_sql(show).scalar() for s in (first, second)}

    with migrated_engine("postgres", tmp_path) as engine:
        monkeypatch.setenv("RISKOPS_DATABASE_URL", database_url(engine))
        monkeypatch.setenv("RISKOPS_DATA_DIR", str(tmp_path))
        get_settings.cache_clear()
        try:
            writer, reader = _sessions(writer=True), _sessions()
            assert limits(writer) == {f"{IDLE_IN_TRANSACTION_SECONDS}s"}
            assert limits(reader) == {"0"}
            for sessions in (writer, reader):
                sessions.kw["bind"].dispose()
        finally:
            get_settings.cache_clear()


@pytest.mark.postgres
def test_ingest_behind_a_stuck_writer_stops_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, wire: Callable[..., Any]
) -> None:
    """An ingest that waits for the event log past its limit (here the session's own
    lock_timeout, short) stops with a message and exit code 1, not a traceback."""
    from urllib.parse import quote

    from processes import database_url
    from riskops.events.repository import APPEND_LOCK_KEY
    from riskops.kernel.config import get_settings
    from support import migrated_engine

    path = tmp_path / "batch.jsonl"
    path.write_bytes(b"\n".join(msgspec.json.encode(wire(i)) for i in range(5)))
    with migrated_engine("postgres", tmp_path) as engine, engine.connect() as holder:
        holder.exec_driver_sql(f"SELECT pg_advisory_xact_lock({APPEND_LOCK_KEY})")
        url = database_url(engine) + quote(" -clock_timeout=200ms")
        monkeypatch.setenv("RISKOPS_DATABASE_URL", url)
        monkeypatch.setenv("RISKOPS_DATA_DIR", str(tmp_path))
        get_settings.cache_clear()
        try:
            result = CliRunner().invoke(app, ["ingest", str(path)])
        finally:
            get_settings.cache_clear()
            holder.rollback()
    assert result.exit_code == 1, result.output
    assert "the event log is busy" in result.output and "ingest the file" in result.output
