"""events: index (account_id, seq) for the account timeline, replacing (account_id)

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_account_seq", ["account_id", "seq"], unique=False)
        batch_op.drop_index("ix_events_account_id")


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_account_id", ["account_id"], unique=False)
        batch_op.drop_index("ix_events_account_seq")
