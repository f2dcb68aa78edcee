"""authoring: promotion requests of rules and models, approved by a second person

Revision ID: 0026
Revises: 0025
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "authoring_promotions",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("subject_id", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=16), nullable=False),
        sa.Column("rollback", sa.Boolean(), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=128), nullable=False),
        sa.Column("requested_at", _AT, nullable=False),
        sa.Column("why", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.Column("decided_at", _AT, nullable=True),
        sa.Column("decision_why", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authoring_promotions")),
    )
    op.create_index(
        "ix_authoring_promotions_status", "authoring_promotions", ["status", "id"], unique=False
    )
    op.create_index(
        "ix_authoring_promotions_subject",
        "authoring_promotions",
        ["kind", "subject_id", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_authoring_promotions_subject", table_name="authoring_promotions")
    op.drop_index("ix_authoring_promotions_status", table_name="authoring_promotions")
    op.drop_table("authoring_promotions")
