"""cluster: the transfers' second rows owed, for the accounts follower

Revision ID: 0028
Revises: 0027
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cluster_owed",
        sa.Column("stream", sa.String(length=128), nullable=False),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("stream", "event_id", name=op.f("pk_cluster_owed")),
    )


def downgrade() -> None:
    op.drop_table("cluster_owed")
