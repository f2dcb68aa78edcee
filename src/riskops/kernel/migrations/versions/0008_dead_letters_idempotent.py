"""dead_letters: idempotent on (source, position, payload); raw input kept as bytes

``raw`` becomes a bytes column (any input: NUL, invalid UTF-8, binary), ``digest`` the
SHA-256 of it, and ``input_key`` (unique) the digest of where the input came from and of
``digest``; copies already stored by earlier re-runs are removed, the oldest is kept
(ADR 0017).

Revision ID: 0008
Revises: 0007
"""

import hashlib
from collections.abc import Sequence

import msgspec
import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 1_000
_encode = msgspec.json.Encoder().encode


def upgrade() -> None:
    connection = op.get_bind()
    postgresql = connection.dialect.name == "postgresql"
    op.add_column("dead_letters", sa.Column("digest", sa.String(length=64), nullable=True))
    op.add_column("dead_letters", sa.Column("input_key", sa.String(length=64), nullable=True))
    if postgresql:  # the stored text was UTF-8 (PostgreSQL held no NUL): its bytes exactly
        op.execute(
            "ALTER TABLE dead_letters ALTER COLUMN raw TYPE bytea USING convert_to(raw, 'UTF8')"
        )
    _fill_keys(connection)
    with op.batch_alter_table("dead_letters") as batch:
        if not postgresql:  # SQLite copies the table, its text as bytes (CAST AS BLOB)
            batch.alter_column("raw", existing_type=sa.Text(), type_=sa.LargeBinary())
        batch.alter_column("digest", existing_type=sa.String(length=64), nullable=False)
        batch.alter_column("input_key", existing_type=sa.String(length=64), nullable=False)
        batch.create_unique_constraint("uq_dead_letters_input_key", ["input_key"])


def _fill_keys(connection: sa.Connection) -> None:
    """Digest every stored dead letter (in Python: SQLite has no SHA-256) and delete the
    later copies of one input, which the unique key would refuse."""
    rows = connection.execute(
        sa.text("SELECT id, source, source_name, source_row, raw FROM dead_letters ORDER BY id")
    )
    seen: set[str] = set()
    updates: list[dict[str, object]] = []
    copies: list[int] = []
    for id_, source, source_name, source_row, raw in rows.all():
        data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else bytes(raw)
        digest = hashlib.sha256(data).hexdigest()
        key = hashlib.sha256(_encode((source, source_name, source_row, digest))).hexdigest()
        if key in seen:
            copies.append(id_)
            continue
        seen.add(key)
        updates.append({"id": id_, "digest": digest, "key": key})
    update = sa.text("UPDATE dead_letters SET digest = :digest, input_key = :key WHERE id = :id")
    for start in range(0, len(updates), _BATCH):
        connection.execute(update, updates[start : start + _BATCH])
    delete = sa.text("DELETE FROM dead_letters WHERE id = :id")
    for start in range(0, len(copies), _BATCH):
        connection.execute(delete, [{"id": id_} for id_ in copies[start : start + _BATCH]])


def downgrade() -> None:
    # The old text column cannot hold every input: bytes that are not UTF-8 become U+FFFD,
    # NUL becomes U+FFFD on both databases (PostgreSQL refuses it in text).
    connection = op.get_bind()
    op.add_column("dead_letters", sa.Column("raw_text", sa.Text(), nullable=True))
    rows = connection.execute(sa.text("SELECT id, raw FROM dead_letters")).all()
    update = sa.text("UPDATE dead_letters SET raw_text = :text WHERE id = :id")
    values = [
        {"id": id_, "text": bytes(raw).decode("utf-8", "replace").replace("\x00", "\ufffd")}
        for id_, raw in rows
    ]
    for start in range(0, len(values), _BATCH):
        connection.execute(update, values[start : start + _BATCH])
    with op.batch_alter_table("dead_letters") as batch:
        batch.drop_constraint("uq_dead_letters_input_key", type_="unique")
        batch.drop_column("input_key")
        batch.drop_column("digest")
        batch.drop_column("raw")
    with op.batch_alter_table("dead_letters") as batch:
        batch.alter_column(
            "raw_text", new_column_name="raw", existing_type=sa.Text(), nullable=False
        )
