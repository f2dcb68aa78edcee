"""the linked-accounts graph: shared values, who used them, clusters (riskops.links)

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "link_values",
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=256), nullable=False),
        sa.Column("accounts", sa.Integer(), nullable=False),
        sa.Column("hub", sa.Boolean(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_joined", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", "value", name=op.f("pk_link_values")),
    )
    op.create_table(
        "account_links",
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=256), nullable=False),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", "value", "account_id", name=op.f("pk_account_links")),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_account_links_account", "account_links", ["account_id", "kind", "value"])
    op.create_table(
        "link_members",
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("cluster_id", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_link_members")),
    )
    op.create_index(op.f("ix_link_members_cluster_id"), "link_members", ["cluster_id"])
    op.create_table(
        "link_clusters",
        sa.Column("cluster_id", sa.String(length=128), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("alerted_size", sa.Integer(), nullable=False),
        sa.Column("formed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("cluster_id", name=op.f("pk_link_clusters")),
    )


def downgrade() -> None:
    op.drop_table("link_clusters")
    op.drop_index(op.f("ix_link_members_cluster_id"), table_name="link_members")
    op.drop_table("link_members")
    op.drop_index("ix_account_links_account", table_name="account_links")
    op.drop_table("account_links")
    op.drop_table("link_values")
