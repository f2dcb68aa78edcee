"""initial schema: event log, dead letters, rules, monitor

Revision ID: 0001
Revises:
Create Date: 2026-11-25 00:03:15.757630
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dead_letters",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("source_name", sa.String(length=512), nullable=True),
        sa.Column("source_row", sa.BigInteger(), nullable=True),
        sa.Column("event_id", sa.String(length=128), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("errors", sa.Text(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
    )
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dead_letters_received_at"), ["received_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_dead_letters_source"), ["source"], unique=False)

    op.create_table(
        "events",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("source_name", sa.String(length=512), nullable=True),
        sa.Column("source_row", sa.BigInteger(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("payload_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_events_event_id")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_events_account_id"), ["account_id"], unique=False)

    op.create_table(
        "monitor_alerts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("rule_version", sa.Integer(), nullable=False),
        sa.Column("typology", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("row", sa.SmallInteger(), nullable=False),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column(
            "action",
            sa.Enum(
                "allow",
                "review",
                "hold",
                "block",
                name="monitor_alert_action",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("shadow", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_alerts")),
        sa.UniqueConstraint("rule_id", "event_id", "row", name="uq_monitor_alerts_rule_event_row"),
    )
    with op.batch_alter_table("monitor_alerts", schema=None) as batch_op:
        batch_op.create_index("ix_monitor_alerts_account_seq", ["account_id", "seq"], unique=False)
        batch_op.create_index(batch_op.f("ix_monitor_alerts_rule_id"), ["rule_id"], unique=False)

    op.create_table(
        "monitor_checkpoints",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_monitor_checkpoints")),
    )
    op.create_table(
        "monitor_decisions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("row", sa.SmallInteger(), nullable=False),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum(
                "allow",
                "review",
                "hold",
                "block",
                name="monitor_outcome",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("rule_ids", sa.JSON(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("latency_us", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_decisions")),
        sa.UniqueConstraint("event_id", "row", name="uq_monitor_decisions_event_row"),
    )
    with op.batch_alter_table("monitor_decisions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_monitor_decisions_account_seq", ["account_id", "seq"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_monitor_decisions_seq"), ["seq"], unique=False)

    op.create_table(
        "monitor_holds",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("event_id", sa.String(length=128), nullable=False),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column("withdrawal_id", sa.String(length=128), nullable=True),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column(
            "amount", sa.Numeric(38, 18).with_variant(sa.String(64), "sqlite"), nullable=False
        ),
        sa.Column(
            "usd_value", sa.Numeric(20, 2).with_variant(sa.String(64), "sqlite"), nullable=False
        ),
        sa.Column(
            "status",
            sa.Enum(
                "held",
                "released",
                "rejected",
                name="monitor_hold_status",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=128), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_holds")),
        sa.UniqueConstraint("event_id", name=op.f("uq_monitor_holds_event_id")),
    )
    with op.batch_alter_table("monitor_holds", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_monitor_holds_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index("ix_monitor_holds_status_id", ["status", "id"], unique=False)

    op.create_table(
        "monitor_restrictions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("account_id", sa.String(length=128), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "withdrawal_lock",
                "trading_lock",
                "p2p_ban",
                "api_disable",
                "full_freeze",
                name="restriction_kind",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_by", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_restrictions")),
    )
    with op.batch_alter_table("monitor_restrictions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_monitor_restrictions_account_id"), ["account_id"], unique=False
        )

    op.create_table(
        "rule_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(length=128), nullable=False),
        sa.Column("why", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule_events")),
    )
    with op.batch_alter_table("rule_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rule_events_rule_id"), ["rule_id"], unique=False)

    op.create_table(
        "rule_versions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("body_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule_versions")),
        sa.UniqueConstraint("rule_id", "version", name=op.f("uq_rule_versions_rule_id")),
    )
    with op.batch_alter_table("rule_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rule_versions_rule_id"), ["rule_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_rule_versions_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("rule_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rule_versions_status"))
        batch_op.drop_index(batch_op.f("ix_rule_versions_rule_id"))

    op.drop_table("rule_versions")
    with op.batch_alter_table("rule_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rule_events_rule_id"))

    op.drop_table("rule_events")
    with op.batch_alter_table("monitor_restrictions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_monitor_restrictions_account_id"))

    op.drop_table("monitor_restrictions")
    with op.batch_alter_table("monitor_holds", schema=None) as batch_op:
        batch_op.drop_index("ix_monitor_holds_status_id")
        batch_op.drop_index(batch_op.f("ix_monitor_holds_account_id"))

    op.drop_table("monitor_holds")
    with op.batch_alter_table("monitor_decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_monitor_decisions_seq"))
        batch_op.drop_index("ix_monitor_decisions_account_seq")

    op.drop_table("monitor_decisions")
    op.drop_table("monitor_checkpoints")
    with op.batch_alter_table("monitor_alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_monitor_alerts_rule_id"))
        batch_op.drop_index("ix_monitor_alerts_account_seq")

    op.drop_table("monitor_alerts")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_account_id"))

    op.drop_table("events")
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dead_letters_source"))
        batch_op.drop_index(batch_op.f("ix_dead_letters_received_at"))

    op.drop_table("dead_letters")
