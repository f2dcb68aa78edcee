"""accounts: account actions with maker and approver (four-eyes outside cases)

A full freeze or an offboarding asked for over the API waits in ``account_actions`` until a
second person approves or refuses it; a restriction records its approver (``approved_by``)
beside its maker (``created_by``).

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # A nullable column without a default: added in place on SQLite and PostgreSQL alike.
    op.add_column(
        "monitor_restrictions", sa.Column("approved_by", sa.String(length=128), nullable=True)
    )
    op.create_table(
        "account_actions",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "restrict",
                "full_freeze",
                "offboard",
                "lift",
                name="account_action_kind",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_by", sa.String(length=128), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending_approval",
                "approved",
                "refused",
                name="account_action_status",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_comment", sa.Text(), nullable=True),
        sa.Column("restriction_id", _ID, nullable=True),
        sa.ForeignKeyConstraint(
            ["restriction_id"],
            ["monitor_restrictions.id"],
            name=op.f("fk_account_actions_restriction_id_monitor_restrictions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_actions")),
    )
    with op.batch_alter_table("account_actions", schema=None) as batch_op:
        batch_op.create_index("ix_account_actions_status_id", ["status", "id"], unique=False)
        batch_op.create_index("ix_account_actions_account_id", ["account_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("account_actions", schema=None) as batch_op:
        batch_op.drop_index("ix_account_actions_account_id")
        batch_op.drop_index("ix_account_actions_status_id")
    op.drop_table("account_actions")
    with op.batch_alter_table("monitor_restrictions", schema=None) as batch_op:
        batch_op.drop_column("approved_by")
