"""Database engine and sessions: SQLite by default, PostgreSQL when configured.

One request or task is one transaction, owned by the boundary (``unit_of_work``);
services and repositories never commit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import MetaData, event
from sqlalchemy.engine import Dialect, Engine, create_engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every table; models live in each domain's ``models.py``."""

    metadata = MetaData(naming_convention=NAMING)


SQLITE_PAGE_SIZE = 16_384


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # Takes effect only on a new, empty database (it must precede WAL mode). 16 KiB pages
    # cut the WAL frames and checkpoint writes of bulk ingestion by 4x (ADR 0014).
    cursor.execute(f"PRAGMA page_size={SQLITE_PAGE_SIZE}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def positional(
    stmt: Any, dialect: Dialect, order: Sequence[str], *, keys: Sequence[str] | None = None
) -> tuple[str, dict[str, Callable[[Any], Any]]]:
    """A statement compiled once for a positional-parameter driver (SQLite): its SQL, whose
    parameters must come in ``order`` (checked), and the bind processors of its parameters
    by name (what Core would apply to each value: the stored text stays the same). For hot
    inserts that hand the driver tuples, without Core's per-execution setup."""
    compiled = stmt.compile(dialect=dialect, column_keys=list(keys) if keys else None)
    if list(compiled.positiontup or []) != list(order):
        raise RuntimeError(f"unexpected parameter order {compiled.positiontup}")
    processors: dict[str, Callable[[Any], Any]] = compiled._bind_processors
    return compiled.string, processors


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL and a busy timeout so processes can share it."""
    if url.startswith("sqlite"):
        if url.startswith("sqlite:///") and ":memory:" not in url:
            from pathlib import Path

            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return create_engine(url, **kwargs)


IDLE_IN_TRANSACTION_SECONDS = 5


def end_idle_transactions(engine: Engine, seconds: float = IDLE_IN_TRANSACTION_SECONDS) -> None:
    """On PostgreSQL, have the server end a session of ``engine`` that stays idle inside a
    transaction for ``seconds`` (``idle_in_transaction_session_timeout``), so its locks go.

    For processes that write events in bulk (ingestion, the NATS consumer): if one of them
    stops mid-transaction and its connection stays open (a process frozen, or a child that
    kept the socket), the event log is blocked for others only this long. Their
    transactions never wait idle on anything slower than a batch being prepared.
    """
    if engine.dialect.name != "postgresql":
        return
    milliseconds = int(seconds * 1000)

    def limit(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET idle_in_transaction_session_timeout = {milliseconds}")
        dbapi_connection.commit()

    event.listen(engine, "connect", limit)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False, autoflush=False)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def import_all_models() -> None:
    """Import every domain's models so ``Base.metadata`` knows all tables."""
    import importlib
    import pkgutil

    import riskops

    for module in pkgutil.walk_packages(riskops.__path__, "riskops."):
        if module.name.endswith(".models"):
            importlib.import_module(module.name)


def open_database(url: str | None = None) -> Engine:
    """The configured database (or ``url``), migrated to the newest schema: what every
    entry point (server, worker, CLI commands) starts from."""
    from riskops.kernel.config import get_settings

    engine = make_engine(url or get_settings().sqlalchemy_url)
    migrate(engine)
    return engine


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest version (Alembic migrations)."""
    from riskops.kernel.migrations import upgrade_head

    upgrade_head(engine)
