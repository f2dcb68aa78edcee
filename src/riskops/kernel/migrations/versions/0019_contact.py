"""contact: messages sent to account holders from cases, and their SMS replies

Revision ID: 0019
Revises: 0018
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "contact_messages",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("case_id", _ID, nullable=False),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("to_masked", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=512), nullable=True),
        sa.Column("outbound_id", _ID, nullable=False),
        sa.Column("outbound_message_id", sa.String(length=256), nullable=False),
        sa.Column("sent_by", sa.String(length=128), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_contact_messages_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_messages")),
    )
    op.create_index("ix_contact_messages_case", "contact_messages", ["case_id", "id"])
    op.create_table(
        "contact_replies",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("case_id", _ID, nullable=True),
        sa.Column("account_id", sa.String(length=128), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("provider_message_id", sa.String(length=256), nullable=False),
        sa.Column("from_masked", sa.String(length=64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_contact_replies_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_replies")),
        sa.UniqueConstraint(
            "provider_message_id", name=op.f("uq_contact_replies_provider_message_id")
        ),
    )
    op.create_index(op.f("ix_contact_replies_case_id"), "contact_replies", ["case_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_contact_replies_case_id"), table_name="contact_replies")
    op.drop_table("contact_replies")
    op.drop_index("ix_contact_messages_case", table_name="contact_messages")
    op.drop_table("contact_messages")
