"""cases: the case alerts' group key as a computed column, indexed

Revision ID: 0017
Revises: 0016

``cases.repository.open_cases_of_groups`` finds a cluster alert's open case by the alert
detail's ``group_key``; without an index that reads every alert of every open case. The
key becomes a column the database computes from ``detail`` (so no writer changes and old
rows have it at once), with a partial index over the alerts that have one (ADR 0030).
PostgreSQL stores it (it indexes no virtual column; adding it rewrites ``case_alerts``
once); SQLite adds it virtual (its ALTER TABLE adds no stored column) and indexes it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEY = {
    "sqlite": "json_extract(detail, '$.group_key')",
    "postgresql": "(detail ->> 'group_key')",
}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    stored = True if dialect == "postgresql" else None
    op.add_column(
        "case_alerts",
        sa.Column(
            "group_key",
            sa.Text(),
            sa.Computed(sa.text(_KEY[dialect]), persisted=stored),
            nullable=True,
        ),
    )
    op.create_index(
        "ix_case_alerts_group_key",
        "case_alerts",
        ["group_key"],
        sqlite_where=sa.text("group_key IS NOT NULL"),
        postgresql_where=sa.text("group_key IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_case_alerts_group_key", table_name="case_alerts")
    op.drop_column("case_alerts", "group_key")
