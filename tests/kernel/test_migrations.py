"""The Alembic revisions build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from riskops.kernel.db import SQLITE_PAGE_SIZE, Base, import_all_models
from riskops.kernel.migrations import alembic_config, upgrade_head


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    import_all_models()
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_every_model_table_exists(engine: Engine) -> None:
    import_all_models()
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert {"events", "dead_letters", "monitor_alerts", "monitor_decisions"} <= tables


def test_a_new_sqlite_database_has_16_kib_pages(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA page_size").scalar_one() == SQLITE_PAGE_SIZE
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar_one() == "wal"


def test_dropping_payload_hash_keeps_events_and_a_downgrade_restores_the_hashes(
    engine: Engine,
) -> None:
    payload = '{"type":"login","event_id":"e-1"}'
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO events (event_id, type, account_id, occurred_at, received_at,"
                " source, payload) VALUES ('e-1', 'login', 'a-1', :at, :at, 'file', :payload)"
            ),
            {"at": datetime(2026, 1, 1, tzinfo=UTC), "payload": payload},
        )
    config = alembic_config(engine)
    command.downgrade(config, "0006")  # type: ignore[arg-type]
    with engine.connect() as conn:
        row = conn.execute(text("SELECT payload, payload_hash FROM events")).one()
    assert row == (payload, hashlib.sha256(payload.encode()).hexdigest())
    upgrade_head(engine)
    assert "payload_hash" not in {c["name"] for c in inspect(engine).get_columns("events")}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT event_id, payload FROM events")).one() == ("e-1", payload)
