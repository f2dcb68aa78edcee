"""cluster: partition leases and snapshots

Revision ID: 0027
Revises: 0026
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "cluster_partitions",
        sa.Column("stream", sa.String(length=128), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("partitions", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=True),
        sa.Column("fence", sa.BigInteger(), nullable=False),
        sa.Column("lease_until", _AT, nullable=True),
        sa.Column("checkpoint", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", _AT, nullable=False),
        sa.PrimaryKeyConstraint("stream", "partition", name=op.f("pk_cluster_partitions")),
    )
    op.create_table(
        "cluster_snapshots",
        sa.Column("stream", sa.String(length=128), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("rules", sa.String(length=64), nullable=False),
        sa.Column("state", sa.LargeBinary(), nullable=False),
        sa.Column("taken_at", _AT, nullable=False),
        sa.PrimaryKeyConstraint("stream", "partition", name=op.f("pk_cluster_snapshots")),
    )


def downgrade() -> None:
    op.drop_table("cluster_snapshots")
    op.drop_table("cluster_partitions")
