"""the links follower's cursor on the event log

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The graph was kept by the monitor's batches up to its checkpoint: the follower starts
    # there (where the monitor is), not at 0, so an upgraded database does not replay the log.
    op.create_table(
        "links_cursor",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_links_cursor")),
    )
    op.execute(
        "INSERT INTO links_cursor (name, seq, updated_at) "
        "SELECT 'links', last_seq, updated_at FROM monitor_checkpoints WHERE name = 'default'"
    )


def downgrade() -> None:
    op.drop_table("links_cursor")
