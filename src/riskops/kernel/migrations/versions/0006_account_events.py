"""account_events: the account timeline kept by the monitor, instead of an events index

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account_events",
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "seq", name=op.f("pk_account_events")),
        sqlite_with_rowid=False,
    )
    # The events already monitored are the timeline's; the tail after the checkpoint is
    # read from the log, so taking every event here is correct too, and simpler.
    op.execute("INSERT INTO account_events (account_id, seq) SELECT account_id, seq FROM events")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_account_seq")


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_account_seq", ["account_id", "seq"], unique=False)
    op.drop_table("account_events")
