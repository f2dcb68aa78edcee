"""sanctions lists, screening hits and their reviews

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "screening_list_versions",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("list_name", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("entry_count", sa.Integer(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("loaded_by", sa.String(length=128), nullable=False),
        sa.Column("entries", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screening_list_versions")),
        sa.UniqueConstraint("list_name", "version", name="uq_screening_list_versions_version"),
    )
    op.create_index(
        "ix_screening_list_versions_digest",
        "screening_list_versions",
        ["list_name", "digest"],
    )
    op.create_table(
        "screening_lists",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("version_id", _ID, nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["screening_list_versions.id"],
            name=op.f("fk_screening_lists_version_id_screening_list_versions"),
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_screening_lists")),
    )
    op.create_table(
        "screening_subjects",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "kyc",
                "kyb",
                "owner",
                "p2p_counterparty",
                name="screening_subject_role",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("ref", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=True),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("screened_key", sa.String(length=64), nullable=True),
        sa.Column("screened_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screening_subjects")),
        sa.UniqueConstraint("account_id", "role", "ref", name="uq_screening_subjects_identity"),
    )
    op.create_index("ix_screening_subjects_account", "screening_subjects", ["account_id"])
    op.create_table(
        "screening_hits",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("subject_id", _ID, nullable=False),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("subject_name", sa.String(length=256), nullable=False),
        sa.Column("list_name", sa.String(length=64), nullable=False),
        sa.Column("list_version_id", _ID, nullable=False),
        sa.Column("entry_id", sa.String(length=128), nullable=False),
        sa.Column("matched_name", sa.String(length=512), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("entry", sa.JSON(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "confirmed",
                "not_a_match",
                name="screening_hit_status",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["screening_subjects.id"],
            name=op.f("fk_screening_hits_subject_id_screening_subjects"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screening_hits")),
        sa.UniqueConstraint("key", name=op.f("uq_screening_hits_key")),
    )
    op.create_index("ix_screening_hits_account", "screening_hits", ["account_id", "id"])
    op.create_index("ix_screening_hits_status", "screening_hits", ["status", "id"])
    op.create_index(
        op.f("ix_screening_hits_subject_id"), "screening_hits", ["subject_id"], unique=False
    )
    op.create_table(
        "screening_cursor",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_screening_cursor")),
    )


def downgrade() -> None:
    op.drop_table("screening_cursor")
    op.drop_index(op.f("ix_screening_hits_subject_id"), table_name="screening_hits")
    op.drop_index("ix_screening_hits_status", table_name="screening_hits")
    op.drop_index("ix_screening_hits_account", table_name="screening_hits")
    op.drop_table("screening_hits")
    op.drop_index("ix_screening_subjects_account", table_name="screening_subjects")
    op.drop_table("screening_subjects")
    op.drop_table("screening_lists")
    op.drop_index("ix_screening_list_versions_digest", table_name="screening_list_versions")
    op.drop_table("screening_list_versions")
