"""audit: append-only on SQLite (triggers refuse UPDATE and DELETE)

PostgreSQL has refused to change or delete an audit entry since 0002 (a trigger on UPDATE,
DELETE and TRUNCATE; an ``INSERT ... ON CONFLICT DO UPDATE`` fires the UPDATE trigger). This
gives SQLite the same guarantee: triggers refuse UPDATE and DELETE, and a third refuses an
INSERT over an existing id, since ``REPLACE`` deletes the old row without firing DELETE
triggers (unless ``recursive_triggers`` is on). ADR 0020.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REFUSE = "SELECT RAISE(ABORT, 'audit_log is append-only: {op} refused');"
_SQLITE_TRIGGERS = {
    "audit_log_no_update": f"BEFORE UPDATE ON audit_log BEGIN {_REFUSE.format(op='UPDATE')} END",
    "audit_log_no_delete": f"BEFORE DELETE ON audit_log BEGIN {_REFUSE.format(op='DELETE')} END",
    "audit_log_no_replace": (
        "BEFORE INSERT ON audit_log"
        " WHEN EXISTS (SELECT 1 FROM audit_log WHERE id = NEW.id)"
        f" BEGIN {_REFUSE.format(op='REPLACE')} END"
    ),
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # PostgreSQL: the triggers of 0002
    for name, body in _SQLITE_TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} {body}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name in _SQLITE_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
