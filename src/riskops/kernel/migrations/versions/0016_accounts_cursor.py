"""the accounts follower's cursor on the event log

Revision ID: 0016
Revises: 0015
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Profiles, reviews and ratings were kept by the monitor's batches up to its checkpoint:
    # the follower starts there (where the monitor is), not at 0, so an upgraded database
    # does not replay the log.
    op.create_table(
        "accounts_cursor",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_accounts_cursor")),
    )
    op.execute(
        "INSERT INTO accounts_cursor (name, seq, updated_at) "
        "SELECT 'accounts', last_seq, updated_at FROM monitor_checkpoints WHERE name = 'default'"
    )


def downgrade() -> None:
    op.drop_table("accounts_cursor")
