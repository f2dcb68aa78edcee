"""Migration 0010 (account actions, a restriction's approver) both ways, with rows in it,
on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from riskops.kernel.migrations import alembic_config, upgrade_head

AT = datetime(2026, 12, 1, tzinfo=UTC)


def test_account_actions_and_approvers_come_and_go_and_restrictions_stay(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO monitor_restrictions (account_id, kind, reason, created_by,"
                " approved_by, created_at) VALUES ('a-1', 'full_freeze', 'ATO', 'ana', 'sam', :at)"
            ),
            {"at": AT},
        )
        conn.execute(
            text(
                "INSERT INTO account_actions (account_id, kind, params, reason, requested_by,"
                " requested_at, status) VALUES ('a-1', 'offboard', '{}', 'mule', 'ana', :at,"
                " 'pending_approval')"
            ),
            {"at": AT},
        )
    command.downgrade(alembic_config(engine), "0009")  # type: ignore[arg-type]
    schema = inspect(engine)
    assert "account_actions" not in schema.get_table_names()
    assert "approved_by" not in {c["name"] for c in schema.get_columns("monitor_restrictions")}
    with engine.connect() as conn:
        kept = conn.execute(text("SELECT account_id, kind, created_by FROM monitor_restrictions"))
        assert kept.all() == [("a-1", "full_freeze", "ana")]
    upgrade_head(engine)
    schema = inspect(engine)
    assert "account_actions" in schema.get_table_names()
    with engine.connect() as conn:
        again = conn.execute(text("SELECT created_by, approved_by FROM monitor_restrictions"))
        assert again.all() == [("ana", None)]  # the approver was dropped with its column
        assert conn.execute(text("SELECT count(*) FROM account_actions")).scalar_one() == 0
