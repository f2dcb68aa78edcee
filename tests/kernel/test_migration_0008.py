"""Migration 0008: dead letters keep bytes and are unique per input, both ways, both databases."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from riskops.kernel.migrations import alembic_config, upgrade_head

_INSERT = (
    "INSERT INTO dead_letters (received_at, source, source_name, source_row, event_id,"
    " reason, errors, raw) VALUES (:at, :source, :name, :row, NULL, 'bad', '[]', :raw)"
)


def test_upgrade_keeps_the_text_as_bytes_and_removes_the_copies_of_reruns(
    engine: Engine,
) -> None:
    command.downgrade(alembic_config(engine), "0007")  # type: ignore[arg-type]
    at = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [
        ("file", "a.ndjson", 5, '{"type": "é"'),
        ("file", "a.ndjson", 5, '{"type": "é"'),  # the re-run's copy
        ("file", "a.ndjson", 6, '{"type": "é"'),  # same text, other row: kept
        ("http", None, None, "not json"),
        ("http", None, None, "not json"),  # the same refused body again
        ("file", "a.ndjson", 5, '{"type": "é"'),
    ]
    with engine.begin() as conn:
        for source, name, row, raw in rows:
            values = {"at": at, "source": source, "name": name, "row": row, "raw": raw}
            conn.execute(text(_INSERT), values)
    upgrade_head(engine)
    with engine.connect() as conn:
        kept = conn.execute(
            text("SELECT id, source_row, raw, digest FROM dead_letters ORDER BY id")
        )
        found = [(r.id, r.source_row, bytes(r.raw), r.digest) for r in kept]
    assert [(i, row, raw) for i, row, raw, _ in found] == [
        (1, 5, '{"type": "é"'.encode()),
        (3, 6, '{"type": "é"'.encode()),
        (4, None, b"not json"),
    ]
    assert [d for *_, d in found] == [hashlib.sha256(raw).hexdigest() for _, _, raw, _ in found]
    unique = inspect(engine).get_unique_constraints("dead_letters")
    assert [c["column_names"] for c in unique] == [["input_key"]]


def test_downgrade_keeps_what_text_can_hold(engine: Engine) -> None:
    from riskops.events import repository
    from riskops.kernel.clock import utcnow
    from riskops.kernel.db import session_factory, unit_of_work

    letters = [b"plain \xc3\xa9", b"nul \x00 and \xff"]
    with unit_of_work(session_factory(engine)) as session:
        repository.insert_dead_letters(
            session,
            [
                {
                    "received_at": utcnow(),
                    "source": "file",
                    "source_name": "f",
                    "source_row": row,
                    "event_id": None,
                    "reason": "bad",
                    "errors": "[]",
                    "raw": raw,
                }
                for row, raw in enumerate(letters)
            ],
        )
    command.downgrade(alembic_config(engine), "0007")  # type: ignore[arg-type]
    with engine.connect() as conn:
        texts = conn.execute(text("SELECT raw FROM dead_letters ORDER BY id")).scalars().all()
    assert texts == ["plain é", "nul \ufffd and \ufffd"]
    columns = {c["name"] for c in inspect(engine).get_columns("dead_letters")}
    assert {"digest", "input_key"}.isdisjoint(columns) and "raw" in columns
    upgrade_head(engine)
    with engine.connect() as conn:
        raws = conn.execute(text("SELECT raw FROM dead_letters ORDER BY id")).scalars().all()
    assert [bytes(r) for r in raws] == [t.encode() for t in texts]
