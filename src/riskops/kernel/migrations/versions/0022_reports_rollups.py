"""reports rollups: report_daily, report_cursor, report_spikes (ADR 0035)

Revision ID: 0022
Revises: 0021
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "report_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("metric", sa.String(length=32), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("queue", sa.String(length=32), nullable=False),
        sa.Column("typology", sa.String(length=64), nullable=False),
        sa.Column("analyst", sa.String(length=128), nullable=False),
        sa.Column("bucket", sa.String(length=32), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.Column("usd_cents", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day",
            "metric",
            "rule",
            "queue",
            "typology",
            "analyst",
            "bucket",
            name=op.f("pk_report_daily"),
        ),
    )
    op.create_index("ix_report_daily_metric_day", "report_daily", ["metric", "day"])
    op.create_table(
        "report_cursor",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("alert_id", sa.BigInteger(), nullable=False),
        sa.Column("event_seq", sa.BigInteger(), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("hold_id", sa.BigInteger(), nullable=False),
        sa.Column("passed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_report_cursor")),
    )
    op.create_table(
        "report_spikes",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("metric", sa.String(length=32), nullable=False),
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("observed", sa.Integer(), nullable=False),
        sa.Column("baseline", sa.Float(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("found_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_spikes")),
        sa.UniqueConstraint("day", "metric", "dimension", "key", name="uq_report_spikes_what"),
    )


def downgrade() -> None:
    op.drop_table("report_spikes")
    op.drop_table("report_cursor")
    op.drop_index("ix_report_daily_metric_day", table_name="report_daily")
    op.drop_table("report_daily")
