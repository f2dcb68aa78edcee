"""qa: the sampling plan, the sampler's cursor and index on closed cases, the samples

Revision ID: 0021
Revises: 0020
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "qa_plans",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("base_rate", sa.Float(), nullable=False),
        sa.Column("outcome_rates", sa.JSON(), nullable=False),
        sa.Column("queue_rates", sa.JSON(), nullable=False),
        sa.Column("analyst_rates", sa.JSON(), nullable=False),
        sa.Column("new_analyst_rate", sa.Float(), nullable=False),
        sa.Column("new_analyst_days", sa.Integer(), nullable=False),
        sa.Column("seed", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", _AT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_plans")),
    )
    op.create_table(
        "qa_cursor",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("closed_at", _AT, nullable=False),
        sa.Column("case_id", _ID, nullable=False),
        sa.Column("updated_at", _AT, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_qa_cursor")),
    )
    op.create_table(
        "qa_samples",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("case_id", _ID, nullable=False),
        sa.Column("plan_id", _ID, nullable=False),
        sa.Column("rate", sa.Float(), nullable=False),
        sa.Column("why", sa.JSON(), nullable=False),
        sa.Column("analyst", sa.String(length=128), nullable=False),
        sa.Column("approver", sa.String(length=128), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("reason_code", sa.String(length=64), nullable=True),
        sa.Column("queue_key", sa.String(length=32), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("closed_at", _AT, nullable=False),
        sa.Column("sampled_at", _AT, nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "waiting",
                "taken",
                "reviewed",
                name="qa_sample_status",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("reviewer", sa.String(length=128), nullable=True),
        sa.Column("taken_at", _AT, nullable=True),
        sa.Column("reviewed_at", _AT, nullable=True),
        sa.Column(
            "verdict",
            sa.Enum("agree", "disagree", name="qa_verdict", native_enum=False, length=32),
            nullable=True,
        ),
        sa.Column("reviewer_outcome", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("acknowledged_at", _AT, nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_qa_samples_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["qa_plans.id"], name=op.f("fk_qa_samples_plan_id_qa_plans")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_samples")),
        sa.UniqueConstraint("case_id", name=op.f("uq_qa_samples_case_id")),
    )
    op.create_index("ix_qa_samples_queue", "qa_samples", ["status", "sampled_at", "id"])
    op.create_index("ix_qa_samples_reviewed", "qa_samples", ["reviewed_at"])
    op.create_index("ix_qa_samples_analyst", "qa_samples", ["analyst", "reviewed_at"])
    # the sampler's keyset read of closed cases (qa.models)
    op.create_index("ix_cases_closed_at", "cases", ["closed_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_cases_closed_at", table_name="cases")
    op.drop_index("ix_qa_samples_analyst", table_name="qa_samples")
    op.drop_index("ix_qa_samples_reviewed", table_name="qa_samples")
    op.drop_index("ix_qa_samples_queue", table_name="qa_samples")
    op.drop_table("qa_samples")
    op.drop_table("qa_cursor")
    op.drop_table("qa_plans")
