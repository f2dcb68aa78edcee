"""events: drop payload_hash; a replay is told from a conflict by comparing the payload

Revision ID: 0007
Revises: 0006
"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # SQLite 3.35+ and PostgreSQL both drop a column that no index or constraint names
    # in place; a batch (copy-the-table) migration would rewrite the whole log.
    op.execute("ALTER TABLE events DROP COLUMN payload_hash")


def downgrade() -> None:
    op.add_column("events", sa.Column("payload_hash", sa.String(length=64), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT seq, payload FROM events")).all()
    update = sa.text("UPDATE events SET payload_hash = :digest WHERE seq = :seq")
    for seq, payload in rows:
        digest = hashlib.sha256(payload.encode()).hexdigest()
        connection.execute(update, {"seq": seq, "digest": digest})
