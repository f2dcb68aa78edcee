"""account risk ratings and KYC/KYB reviews

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=32)


_BAND = ("low", "medium", "high", "prohibited")


def upgrade() -> None:
    op.create_table(
        "account_profiles",
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("phone", sa.String(length=256), nullable=True),
        sa.Column("signup_ip", sa.String(length=64), nullable=True),
        sa.Column("corporate", sa.Boolean(), nullable=False),
        sa.Column("kyc_level", sa.Integer(), nullable=False),
        sa.Column("kyc_status", sa.String(length=32), nullable=True),
        sa.Column("kyb_status", sa.String(length=32), nullable=True),
        sa.Column("nationality", sa.String(length=2), nullable=True),
        sa.Column("document_country", sa.String(length=2), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("kyb_country", sa.String(length=2), nullable=True),
        sa.Column("full_name", sa.String(length=256), nullable=True),
        sa.Column("name_key", sa.String(length=256), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_account_profiles")),
    )
    op.create_index("ix_account_profiles_name_key", "account_profiles", ["name_key"])
    op.create_table(
        "account_signals",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column(
            "kind",
            _enum("account_signal_kind", "alert", "hold", "block", "case_outcome"),
            nullable=False,
        ),
        sa.Column("ref", sa.String(length=256), nullable=False),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("detail", sa.String(length=256), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_signals")),
        sa.UniqueConstraint("account_id", "kind", "ref", name="uq_account_signals_ref"),
    )
    op.create_index(
        "ix_account_signals_account_at", "account_signals", ["account_id", "occurred_at"]
    )
    op.create_table(
        "account_ratings",
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("band", _enum("rating_band", *_BAND), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_account_ratings")),
    )
    op.create_index("ix_account_ratings_computed_at", "account_ratings", ["computed_at"])
    op.create_table(
        "account_rating_history",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("band", _enum("rating_band", *_BAND), nullable=False),
        sa.Column("previous_band", _enum("rating_band", *_BAND), nullable=True),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("trigger", sa.String(length=64), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_rating_history")),
    )
    op.create_index(
        "ix_account_rating_history_account", "account_rating_history", ["account_id", "id"]
    )
    op.create_table(
        "kyc_reviews",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("kind", _enum("kyc_review_kind", "kyc", "kyb"), nullable=False),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("submission", sa.JSON(), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column(
            "status",
            _enum("kyc_review_status", "pending", "approved", "rejected", "more_info"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=128), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kyc_reviews")),
        sa.UniqueConstraint("event_id", name=op.f("uq_kyc_reviews_event_id")),
    )
    op.create_index("ix_kyc_reviews_status_id", "kyc_reviews", ["status", "id"])
    op.create_index("ix_kyc_reviews_account_id", "kyc_reviews", ["account_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_kyc_reviews_account_id", table_name="kyc_reviews")
    op.drop_index("ix_kyc_reviews_status_id", table_name="kyc_reviews")
    op.drop_table("kyc_reviews")
    op.drop_index("ix_account_rating_history_account", table_name="account_rating_history")
    op.drop_table("account_rating_history")
    op.drop_index("ix_account_ratings_computed_at", table_name="account_ratings")
    op.drop_table("account_ratings")
    op.drop_index("ix_account_signals_account_at", table_name="account_signals")
    op.drop_table("account_signals")
    op.drop_index("ix_account_profiles_name_key", table_name="account_profiles")
    op.drop_table("account_profiles")
