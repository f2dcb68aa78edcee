"""screening followups: listed digital currency addresses, the versions a subject was screened against

Revision ID: 0023
Revises: 0022
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "screening_addresses",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("list_version_id", _ID, nullable=False),
        sa.Column("list_name", sa.String(length=64), nullable=False),
        sa.Column("entry_id", sa.String(length=128), nullable=False),
        sa.Column("entry_name", sa.String(length=256), nullable=False),
        sa.Column("currency", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=256), nullable=False),
        sa.Column("key", sa.String(length=256), nullable=False),
        sa.ForeignKeyConstraint(
            ["list_version_id"],
            ["screening_list_versions.id"],
            name=op.f("fk_screening_addresses_list_version_id_screening_list_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screening_addresses")),
    )
    op.create_index("ix_screening_addresses_version", "screening_addresses", ["list_version_id"])
    op.create_index("ix_screening_addresses_key", "screening_addresses", ["key"])
    with op.batch_alter_table("screening_subjects") as batch:
        batch.add_column(sa.Column("screened_versions", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("screening_subjects") as batch:
        batch.drop_column("screened_versions")
    op.drop_index("ix_screening_addresses_key", table_name="screening_addresses")
    op.drop_index("ix_screening_addresses_version", table_name="screening_addresses")
    op.drop_table("screening_addresses")
