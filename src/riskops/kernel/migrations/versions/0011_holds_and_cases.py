"""holds and cases: the kernel outbox that tells cases of holds resolved elsewhere, and
the approver of a hold resolved by a four-eyes case decision

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kernel_outbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("topic", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kernel_outbox")),
    )
    op.create_index("ix_kernel_outbox_topic_id", "kernel_outbox", ["topic", "id"])
    op.add_column("monitor_holds", sa.Column("approved_by", sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("monitor_holds", schema=None) as batch_op:
        batch_op.drop_column("approved_by")
    op.drop_index("ix_kernel_outbox_topic_id", table_name="kernel_outbox")
    op.drop_table("kernel_outbox")
