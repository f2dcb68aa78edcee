"""sar: reports, the accounts they name, their exports

Revision ID: 0020
Revises: 0019
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = sa.DateTime(timezone=True)


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=32)


def upgrade() -> None:
    op.create_table(
        "sar_reports",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("case_id", _ID, nullable=False),
        sa.Column(
            "status",
            _enum("sar_status", "draft", "awaiting_approval", "approved", "filed", "withdrawn"),
            nullable=False,
        ),
        sa.Column("typology", sa.String(length=64), nullable=False),
        sa.Column("activity_from", _AT, nullable=True),
        sa.Column("activity_to", _AT, nullable=True),
        sa.Column("narrative", sa.Text(), nullable=False),
        sa.Column("subjects", sa.JSON(), nullable=False),
        sa.Column("transactions", sa.JSON(), nullable=False),
        sa.Column("drafted_by", sa.String(length=128), nullable=False),
        sa.Column("drafted_at", _AT, nullable=False),
        sa.Column("updated_at", _AT, nullable=False),
        sa.Column("submitted_at", _AT, nullable=True),
        sa.Column("approved_by", sa.String(length=128), nullable=True),
        sa.Column("approved_at", _AT, nullable=True),
        sa.Column("withdrawn_reason", sa.Text(), nullable=True),
        sa.Column("filed_export_id", _ID, nullable=True),
        sa.Column("filed_format", sa.String(length=16), nullable=True),
        sa.Column("filed_sha256", sa.String(length=64), nullable=True),
        sa.Column("filed_at", _AT, nullable=True),
        sa.Column("filed_by", sa.String(length=128), nullable=True),
        sa.Column("fiu_reference", sa.String(length=128), nullable=True),
        sa.Column("retention_until", _AT, nullable=False),
        sa.Column("legal_hold", sa.Boolean(), nullable=False),
        sa.Column("legal_hold_reason", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_sar_reports_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sar_reports")),
    )
    op.create_index("ix_sar_reports_case_id", "sar_reports", ["case_id"])
    op.create_index("ix_sar_reports_status", "sar_reports", ["status", "id"])
    op.create_index("ix_sar_reports_retention", "sar_reports", ["retention_until"])
    op.create_table(
        "sar_accounts",
        sa.Column("sar_id", _ID, nullable=False),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["sar_id"], ["sar_reports.id"], name=op.f("fk_sar_accounts_sar_id_sar_reports")
        ),
        sa.PrimaryKeyConstraint("sar_id", "account_id", name=op.f("pk_sar_accounts")),
    )
    op.create_index("ix_sar_accounts_account", "sar_accounts", ["account_id", "sar_id"])
    op.create_table(
        "sar_exports",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("sar_id", _ID, nullable=False),
        sa.Column("format", _enum("sar_export_format", "goaml", "fincen"), nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("report_version", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["sar_id"], ["sar_reports.id"], name=op.f("fk_sar_exports_sar_id_sar_reports")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sar_exports")),
    )
    op.create_index("ix_sar_exports_sar", "sar_exports", ["sar_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_sar_exports_sar", table_name="sar_exports")
    op.drop_table("sar_exports")
    op.drop_index("ix_sar_accounts_account", table_name="sar_accounts")
    op.drop_table("sar_accounts")
    op.drop_index("ix_sar_reports_retention", table_name="sar_reports")
    op.drop_index("ix_sar_reports_status", table_name="sar_reports")
    op.drop_index("ix_sar_reports_case_id", table_name="sar_reports")
    op.drop_table("sar_reports")
