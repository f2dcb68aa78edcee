"""All SQL of the linked-accounts graph. Functions take the caller's session, never commit.

The writes are the follower's, once per batch (a few statements, each over many rows); the
reads serve "who else used this value" and the traversals of ``riskops.links.service``, each
an index range: ``account_links``' primary key (kind, value, account) for a value's accounts,
its ``(account, kind, value)`` index for an account's values.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import and_, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from riskops.links.models import AccountLink, LinkCluster, LinkMember, LinkValue

Key = tuple[str, str]  # kind, value
_CHUNK = 500  # keys per IN list: well inside SQLite's and PostgreSQL's parameter limits


def _pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _insert(session: Session, table: Any) -> Any:
    return (postgresql if _pg(session) else sqlite).insert(table)


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


# --- the follower's writes ------------------------------------------------------------


# The follower's writes go to the driver as they are (SQLite: tuples with times in
# SQLAlchemy's SQLite text format, so min/max compare them as the ORM stores them;
# PostgreSQL: one statement over arrays), without SQLAlchemy's per-row parameter and type
# processing: they run in every batch of the follower.
_LINK_COLUMNS = "kind, value, account_id, first_seen, last_seen"
_VALUE_COLUMNS = "kind, value, accounts, hub, first_seen, last_joined"
_UNNEST_LINKS = (
    "SELECT * FROM unnest(%s::varchar[], %s::varchar[], %s::varchar[], "
    "%s::timestamptz[], %s::timestamptz[])"
)
_TOUCH = (
    "ON CONFLICT (kind, value, account_id) DO UPDATE SET "
    "first_seen = {least}(account_links.first_seen, excluded.first_seen), "
    "last_seen = {greatest}(account_links.last_seen, excluded.last_seen)"
)
_COUNT = (
    "ON CONFLICT (kind, value) DO UPDATE SET "
    "accounts = link_values.accounts + excluded.accounts, "
    "first_seen = {least}(link_values.first_seen, excluded.first_seen), "
    "last_joined = {greatest}(link_values.last_joined, excluded.last_joined) "
    "RETURNING kind, value, accounts, hub"
)

LinkRow = tuple[str, str, str, datetime, datetime]  # kind, value, account, first, last


@lru_cache(maxsize=1 << 14)
def _sqlite_time(at: datetime) -> str:
    """SQLAlchemy's SQLite text form of a UTC time (a batch's links share their events'
    times, so the last ones are remembered)."""
    if at.tzinfo is not UTC:
        at = at.astimezone(UTC)
    return at.replace(tzinfo=None).isoformat(" ", "microseconds")


def _sqlite_rows(rows: Sequence[tuple[Any, ...]], times: Sequence[int]) -> list[Any]:
    out: list[Any] = []
    for row in rows:
        values = list(row)
        for i in times:
            values[i] = _sqlite_time(values[i])
        out.extend(values)
    return out


def _placeholders(n_rows: int, width: int) -> str:
    one = "(" + ", ".join("?" * width) + ")"
    return ", ".join([one] * n_rows)


def _columns(rows: Sequence[tuple[Any, ...]], width: int) -> list[list[Any]]:
    return [[row[i] for row in rows] for i in range(width)]


def insert_new_links(session: Session, rows: Sequence[LinkRow]) -> set[tuple[str, str, str]]:
    """Insert the ``(kind, value, account_id, first_seen, last_seen)`` rows that are new;
    return the (kind, value, account_id) of those inserted (the others existed)."""
    new: set[tuple[str, str, str]] = set()
    if not rows:
        return new
    connection = session.connection()
    for part in _chunks(rows, 1_000):
        if connection.dialect.name == "postgresql":
            result = connection.exec_driver_sql(
                f"INSERT INTO account_links ({_LINK_COLUMNS}) {_UNNEST_LINKS} "
                "ON CONFLICT DO NOTHING RETURNING kind, value, account_id",
                tuple(_columns(part, 5)),
            )
        else:
            result = connection.exec_driver_sql(
                f"INSERT INTO account_links ({_LINK_COLUMNS}) VALUES "
                f"{_placeholders(len(part), 5)} ON CONFLICT DO NOTHING "
                "RETURNING kind, value, account_id",
                tuple(_sqlite_rows(part, (3, 4))),
            )
        new.update((k, v, a) for k, v, a in result)
    return new


def touch_links(session: Session, rows: Sequence[LinkRow]) -> None:
    """Widen existing links' first/last seen to include the rows' times."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        touch = _TOUCH.format(least="LEAST", greatest="GREATEST")
        connection.exec_driver_sql(
            f"INSERT INTO account_links ({_LINK_COLUMNS}) {_UNNEST_LINKS} {touch}",
            tuple(_columns(rows, 5)),
        )
    else:
        touch = _TOUCH.format(least="min", greatest="max")
        params = [(k, v, a, _sqlite_time(f), _sqlite_time(last)) for k, v, a, f, last in rows]
        connection.exec_driver_sql(
            f"INSERT INTO account_links ({_LINK_COLUMNS}) VALUES (?, ?, ?, ?, ?) {touch}", params
        )


def count_values(
    session: Session, rows: Sequence[tuple[str, str, int, datetime, datetime]]
) -> dict[Key, tuple[int, bool]]:
    """Add ``accounts`` new users to each ``(kind, value, accounts, first_seen,
    last_joined)`` (creating the value); returns each value's (accounts, hub) after."""
    out: dict[Key, tuple[int, bool]] = {}
    if not rows:
        return out
    connection = session.connection()
    for part in _chunks(rows, 1_000):
        if connection.dialect.name == "postgresql":
            cols = _columns(part, 5)
            result = connection.exec_driver_sql(
                f"INSERT INTO link_values ({_VALUE_COLUMNS}) SELECT k, v, n, false, f, j FROM "
                "unnest(%s::varchar[], %s::varchar[], %s::int[], %s::timestamptz[], "
                "%s::timestamptz[]) AS t(k, v, n, f, j) "
                + _COUNT.format(least="LEAST", greatest="GREATEST"),
                tuple(cols),
            )
        else:
            params: list[Any] = []
            for kind, value, accounts, first, last in part:
                params += [kind, value, accounts, 0, _sqlite_time(first), _sqlite_time(last)]
            result = connection.exec_driver_sql(
                f"INSERT INTO link_values ({_VALUE_COLUMNS}) VALUES "
                f"{_placeholders(len(part), 6)} " + _COUNT.format(least="min", greatest="max"),
                tuple(params),
            )
        for kind, value, accounts, hub in result:
            out[(kind, value)] = (int(accounts), bool(hub))
    return out


def weak_links_of(
    session: Session, accounts: Collection[str], kinds: Collection[str]
) -> list[tuple[str, str, str]]:
    """The accounts' links of the given kinds that are not hubs: (account, kind, value).

    The condition on the kind is written ``kind || ''``, which no index serves: on
    ``kind`` itself SQLite's planner walks the primary key (kind first) over every link of
    those kinds instead of the account index."""
    out: list[tuple[str, str, str]] = []
    a, v = AccountLink, LinkValue
    for part in _chunks(sorted(accounts)):
        stmt = (
            select(a.account_id, a.kind, a.value)
            .join(v, and_(v.kind == a.kind, v.value == a.value))
            .where(
                a.account_id.in_(part),
                a.kind.concat("").in_(sorted(kinds)),
                v.hub.is_(False),
            )
        )
        out.extend((acc, k, val) for acc, k, val in session.execute(stmt))
    return out


def mark_hubs(session: Session, keys: Collection[Key]) -> None:
    for kind, values in _by_kind(keys):
        session.execute(
            update(LinkValue)
            .where(LinkValue.kind == kind, LinkValue.value.in_(values))
            .values(hub=True)
            .execution_options(synchronize_session=False)
        )


def _by_kind(keys: Collection[Key]) -> Iterable[tuple[str, Sequence[str]]]:
    """The values by kind, in chunks: ``kind = ? AND value IN (...)`` is a range of the
    primary key on both databases, where SQLite scans a whole index for the row-value
    ``(kind, value) IN (VALUES ...)``."""
    grouped: dict[str, list[str]] = {}
    for kind, value in keys:
        grouped.setdefault(kind, []).append(value)
    for kind, values in sorted(grouped.items()):
        for part in _chunks(sorted(values)):
            yield kind, part


# --- reads ----------------------------------------------------------------------------


def accounts_of(
    session: Session, keys: Collection[Key]
) -> dict[Key, list[tuple[str, datetime, datetime]]]:
    """Each value's accounts with first and last seen, in account order. Callers ask only
    for values that are not hubs (so at most the hub threshold each), or that just became
    one."""
    out: dict[Key, list[tuple[str, datetime, datetime]]] = {k: [] for k in keys}
    t = AccountLink
    for kind_, values in _by_kind(keys):
        stmt = (
            select(t.kind, t.value, t.account_id, t.first_seen, t.last_seen)
            .where(t.kind == kind_, t.value.in_(values))
            .order_by(t.kind, t.value, t.account_id)
        )
        for kind, value, account, first, last in session.execute(stmt):
            out[(kind, value)].append((account, first, last))
    return out


def values_of(
    session: Session, accounts: Collection[str], *, hubs: bool = True
) -> list[tuple[str, str, str, datetime, datetime, int, bool]]:
    """Every value the accounts used: (account, kind, value, first, last, accounts, hub);
    without the hubs when ``hubs`` is false."""
    out: list[tuple[str, str, str, datetime, datetime, int, bool]] = []
    if not accounts:
        return out
    a, v = AccountLink, LinkValue
    for part in _chunks(sorted(accounts)):
        stmt = (
            select(a.account_id, a.kind, a.value, a.first_seen, a.last_seen, v.accounts, v.hub)
            .join(v, and_(v.kind == a.kind, v.value == a.value))
            .where(a.account_id.in_(part))
        )
        if not hubs:
            stmt = stmt.where(v.hub.is_(False))
        for account, kind, value, first, last, count, hub in session.execute(stmt):
            out.append((account, kind, value, first, last, int(count), bool(hub)))
    return out


SharedRow = tuple[str, str, str, datetime, bool, int, str | None, datetime | None]


def shared_with(
    session: Session, accounts: Collection[str], kinds: Collection[str]
) -> list[SharedRow]:
    """Every value the accounts used, with its hub flag and count, and for a value of
    ``kinds`` that is not a hub every other account that used it: (account, kind, value,
    first_seen, hub, accounts, other, other_first_seen), ``other`` None where there is
    none. One query per hop of a traversal (a left join on the primary key)."""
    out: list[SharedRow] = []
    if not accounts:
        return out
    a, v = AccountLink, LinkValue
    o = aliased(AccountLink)
    follow = and_(
        o.kind == a.kind,
        o.value == a.value,
        o.account_id != a.account_id,
        v.hub.is_(False),
        a.kind.in_(sorted(kinds)),
    )
    for part in _chunks(sorted(accounts)):
        stmt = (
            select(
                a.account_id,
                a.kind,
                a.value,
                a.first_seen,
                v.hub,
                v.accounts,
                o.account_id,
                o.first_seen,
            )
            .join(v, and_(v.kind == a.kind, v.value == a.value))
            .outerjoin(o, follow)
            .where(a.account_id.in_(part))
        )
        for acc, kind, value, first, hub, count, other, other_first in session.execute(stmt):
            out.append((acc, kind, value, first, bool(hub), int(count), other, other_first))
    return out


def value_info(session: Session, kind: str, value: str) -> tuple[int, bool] | None:
    row = session.execute(
        select(LinkValue.accounts, LinkValue.hub).where(
            LinkValue.kind == kind, LinkValue.value == value
        )
    ).first()
    return None if row is None else (int(row[0]), bool(row[1]))


def who_used(
    session: Session, kind: str, value: str, limit: int, after: str | None
) -> list[tuple[str, datetime, datetime]]:
    """A page of the accounts that used a value, in account order, after ``after``."""
    t = AccountLink
    stmt = select(t.account_id, t.first_seen, t.last_seen).where(t.kind == kind, t.value == value)
    if after is not None:
        stmt = stmt.where(t.account_id > after)
    stmt = stmt.order_by(t.account_id).limit(limit)
    return [(a, f, last) for a, f, last in session.execute(stmt)]


# --- clusters -------------------------------------------------------------------------


def clusters_of(session: Session, accounts: Collection[str]) -> dict[str, str]:
    """The cluster of each account that is in one."""
    out: dict[str, str] = {}
    for part in _chunks(sorted(accounts)):
        stmt = select(LinkMember.account_id, LinkMember.cluster_id).where(
            LinkMember.account_id.in_(part)
        )
        out.update({a: c for a, c in session.execute(stmt)})
    return out


def members_of(session: Session, cluster_ids: Collection[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {c: [] for c in cluster_ids}
    for part in _chunks(sorted(cluster_ids)):
        stmt = (
            select(LinkMember.cluster_id, LinkMember.account_id)
            .where(LinkMember.cluster_id.in_(part))
            .order_by(LinkMember.account_id)
        )
        for cluster, account in session.execute(stmt):
            out[cluster].append(account)
    return out


def cluster_rows(
    session: Session, cluster_ids: Collection[str]
) -> dict[str, tuple[int, int, datetime]]:
    """Each cluster's (size, alerted_size, formed_at)."""
    out: dict[str, tuple[int, int, datetime]] = {}
    c = LinkCluster
    for part in _chunks(sorted(cluster_ids)):
        stmt = select(c.cluster_id, c.size, c.alerted_size, c.formed_at).where(
            c.cluster_id.in_(part)
        )
        out.update(
            {i: (int(size), int(alerted), at) for i, size, alerted, at in session.execute(stmt)}
        )
    return out


def set_members(session: Session, assignment: dict[str, str]) -> None:
    """Put each account in its cluster (insert or move)."""
    if not assignment:
        return
    t = LinkMember.__table__
    ins = _insert(session, t)
    stmt = ins.on_conflict_do_update(
        index_elements=[t.c.account_id], set_={"cluster_id": ins.excluded.cluster_id}
    )
    rows = [{"account_id": a, "cluster_id": c} for a, c in sorted(assignment.items())]
    session.execute(stmt, rows)


def remove_members(session: Session, accounts: Collection[str]) -> None:
    for part in _chunks(sorted(accounts)):
        session.execute(delete(LinkMember).where(LinkMember.account_id.in_(part)))


def save_clusters(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert or replace ``{cluster_id, size, alerted_size, formed_at, updated_at}``."""
    if not rows:
        return
    t = LinkCluster.__table__
    ins = _insert(session, t)
    stmt = ins.on_conflict_do_update(
        index_elements=[t.c.cluster_id],
        set_={
            "size": ins.excluded.size,
            "alerted_size": ins.excluded.alerted_size,
            "updated_at": ins.excluded.updated_at,
        },
    )
    session.execute(stmt, list(rows))


def drop_clusters(session: Session, cluster_ids: Collection[str]) -> None:
    for part in _chunks(sorted(cluster_ids)):
        session.execute(delete(LinkCluster).where(LinkCluster.cluster_id.in_(part)))


def cluster_row(session: Session, cluster_id: str) -> tuple[int, int, datetime, datetime]:
    """A cluster's (size, alerted_size, formed_at, updated_at)."""
    c = LinkCluster
    row = session.execute(
        select(c.size, c.alerted_size, c.formed_at, c.updated_at).where(c.cluster_id == cluster_id)
    ).one()
    return int(row[0]), int(row[1]), row[2], row[3]
