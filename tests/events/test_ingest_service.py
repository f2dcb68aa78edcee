"""The ingestion service on SQLite and PostgreSQL: idempotency, conflicts, nothing lost."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from riskops.events import repository, service
from riskops.events.validation import decode
from riskops.kernel.db import unit_of_work

Wire = Callable[..., dict[str, Any]]


def _items(events: list[dict[str, Any]]) -> list[tuple[int | None, Any]]:
    return [(i, decode(msgspec.json.encode(e))) for i, e in enumerate(events)]


def _ingest(sessions: sessionmaker[Session], events: list[dict[str, Any]], **kw: Any) -> Any:
    with unit_of_work(sessions) as session:
        return service.ingest(session, _items(events), source="api", **kw)


def test_accepts_and_orders_by_seq(sessions: sessionmaker[Session], wire: Wire) -> None:
    report = _ingest(sessions, [wire(i) for i in range(30)], source_name="t")
    assert (report.accepted, report.duplicates, report.rejected) == (30, 0, [])
    assert report.last_seq - report.first_seq == 29
    with unit_of_work(sessions) as session:
        rows = repository.read_after(session, 0, limit=100)
        assert [r.event_id for r in rows] == [f"e-{i}" for i in range(30)]
        assert rows[0].source_row == 0 and rows[0].source_name == "t"
        assert decode(rows[3].payload.encode()) == decode(msgspec.json.encode(wire(3)))
        assert [r.event_id for r in repository.read_after(session, rows[9].seq, 5)] == [
            f"e-{i}" for i in range(10, 15)
        ]


def test_replay_is_a_duplicate_and_conflict_is_dead_lettered(
    sessions: sessionmaker[Session], wire: Wire
) -> None:
    _ingest(sessions, [wire(i) for i in range(10)])
    changed = wire(3, amount="9.5")
    report = _ingest(sessions, [wire(1), changed, wire(10)])
    assert (report.accepted, report.duplicates) == (1, 1)
    assert [(r.index, r.event_id) for r in report.rejected] == [(1, "e-3")]
    assert report.rejected[0].errors[0].field == "$.event_id"
    with unit_of_work(sessions) as session:
        assert repository.count_events(session) == 11
        letters, total = repository.list_dead_letters(session)
        assert total == 1
        assert letters[0].reason == service.CONFLICT
        assert msgspec.json.decode(letters[0].raw)["amount"] == "9.5"
        stored = {r.event_id: r for r in repository.read_after(session, 0)}
        assert decode(stored["e-3"].payload.encode()).amount == 0.25  # type: ignore[union-attr]


def test_duplicate_ids_within_one_batch(sessions: sessionmaker[Session], wire: Wire) -> None:
    batch = [wire(1), wire(2), wire(1), wire(2, usd_value="1.00"), wire(2)]
    report = _ingest(sessions, batch)
    assert (report.accepted, report.duplicates) == (2, 2)
    assert [(r.index, r.event_id) for r in report.rejected] == [(3, "e-2")]
    with unit_of_work(sessions) as session:
        assert repository.count_events(session) == 2
        assert repository.count_dead_letters(session) == 1


def test_small_chunks_across_a_batch(sessions: sessionmaker[Session], wire: Wire) -> None:
    events = [wire(i % 25) for i in range(100)]  # each id four times, chunks of 7
    with unit_of_work(sessions) as session:
        report = service.ingest(session, _items(events), source="file", chunk_size=7)
    assert (report.accepted, report.duplicates, report.rejected_count) == (25, 75, 0)


def test_rejections_are_kept_and_nothing_accepted_is_lost(
    sessions: sessionmaker[Session], wire: Wire
) -> None:
    raws = [
        msgspec.json.encode(wire(0)),
        b'{"type": "deposit", "event_id": "x"',  # truncated
        msgspec.json.encode(wire(2, amount="-1", rail="pigeon")),
        msgspec.json.encode(wire(3, colour="red")),
        msgspec.json.encode(wire(4, occurred_at="2020-01-01T00:00:00Z")),  # out of order
        msgspec.json.encode(wire(5, type="teleport")),
    ]
    with unit_of_work(sessions) as session:
        report = service.ingest(
            session,
            [(i, decode(r)) for i, r in enumerate(raws)],
            source="file",
            source_name="f.ndjson",
        )
    assert report.accepted == 2
    by_index = {r.index: {e.field for e in r.errors} for r in report.rejected}
    assert by_index == {1: {"$"}, 2: {"$.amount", "$.rail"}, 3: {"$.colour"}, 5: {"$.type"}}
    with unit_of_work(sessions) as session:
        assert repository.count_events(session) == 2
        letters, total = repository.list_dead_letters(session, limit=2, offset=0)
        assert total == 4 and len(letters) == 2
        assert [d.source_row for d in letters] == [5, 3]  # newest first
        assert repository.list_dead_letters(session, source="http")[1] == 0
        assert letters[1].raw == raws[3]
        errors = msgspec.json.decode(letters[1].errors)
        assert errors == [{"field": "$.colour", "reason": "unknown field for deposit"}]


def test_kept_raw_is_truncated_with_a_marker() -> None:
    raw = b"\xff" + b"a" * (service.MAX_RAW_CHARS + 10)
    kept = service.kept_raw(raw)
    assert kept.startswith(b"\xffaaa") and kept.endswith(b"[truncated: 1048587 bytes in all]")
    assert len(kept) < service.MAX_RAW_CHARS + 100
    assert service.kept_raw(b"\x00\xff") == b"\x00\xff"


def test_concurrent_writers_of_the_same_ids(sessions: sessionmaker[Session], wire: Wire) -> None:
    """Two transactions racing on overlapping ids: each id is stored once, the other
    writer counts it as a duplicate (never accepted twice, never lost)."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    barrier = Barrier(2)

    def writer(ids: range) -> Any:
        with unit_of_work(sessions) as session:
            barrier.wait()
            return service.ingest(session, _items([wire(i) for i in ids]), source="api")

    with ThreadPoolExecutor(2) as pool:
        reports = list(pool.map(writer, [range(0, 300), range(200, 500)]))
    assert sum(r.accepted for r in reports) == 500
    assert sum(r.duplicates for r in reports) == 100
    assert all(r.rejected_count == 0 for r in reports)
    with unit_of_work(sessions) as session:
        assert repository.count_events(session) == 500


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    moments=st.lists(
        st.datetimes(
            # the accepted window (riskops.kernel.bounds), a day inside either end
            min_value=datetime(2009, 1, 2),
            max_value=datetime.now() - timedelta(days=1),
            timezones=st.sampled_from(
                [UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-9, minutes=-30))]
            ),
        ),
        min_size=1,
        max_size=20,
    )
)
def test_times_are_stored_exactly_in_utc(
    sessions: sessionmaker[Session], wire: Wire, moments: list[datetime]
) -> None:
    # The bulk insert turns the wire's RFC 3339 text into the stored layout inside the
    # database: offsets, whole seconds and fractions up to .999999 must come back exact.
    moments += [datetime(2025, 12, 31, 23, 59, 59, 999_999, tzinfo=timezone(timedelta(hours=5)))]
    events = [wire(i, occurred_at=m.isoformat()) for i, m in enumerate(moments)]
    with unit_of_work(sessions) as session:
        start = repository.last_seq(session)
    report = _ingest(sessions, [dict(e, event_id=f"{e['event_id']}-{start}") for e in events])
    assert report.accepted == len(moments)
    with unit_of_work(sessions) as session:
        stored = repository.read_after(session, start, limit=100)
    assert [_utc(r.occurred_at) for r in stored] == [m.astimezone(UTC) for m in moments]


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
