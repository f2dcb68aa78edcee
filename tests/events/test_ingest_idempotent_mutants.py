"""Idempotent ingestion, what the event log's insert says it stored (``make mutation``
ingestion: the checks that let planted bugs in ``events.repository.insert_events``
through): more rows than one SQLite statement holds, a call that stores nothing, and
which ids a call stored, on fixed rows written out here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy.orm import Session, sessionmaker

from riskops.events import repository, service
from riskops.events.repository import Stored
from riskops.events.validation import decode
from riskops.kernel.db import unit_of_work

RECEIVED = datetime(2025, 3, 2, 8, 0, tzinfo=UTC)


def _row(n: int) -> list[Any]:
    """One row in EVENT_ROW order: id, type, account, occurred_at (stored text), source
    row, payload."""
    return [f"x-{n}", "login", f"acct-{n % 3}", "2025-03-01 12:00:00.000000", n, f'{{"n":{n}}}']


def _insert(session: Session, numbers: range | list[int]) -> Stored:
    rows = [value for n in numbers for value in _row(n)]
    return repository.insert_events(
        session, rows, received_at=RECEIVED, source="file", source_name="f.ndjson"
    )


def _seqs(session: Session, first: str, last: str) -> tuple[int, int]:
    """The seq of two stored events (PostgreSQL's sequence also advances on the rows
    it skips, so the seqs of one call are in order but not always consecutive)."""
    seq = {r.event_id: r.seq for r in repository.read_after(session, 0, limit=10_000)}
    return seq[first], seq[last]


def test_an_insert_of_new_rows_names_no_ids_and_counts_every_row(
    sessions: sessionmaker[Session],
) -> None:
    with unit_of_work(sessions) as session:
        first = _insert(session, range(3))
        assert (first.count, first.last_seq - first.first_seq, first.ids) == (3, 2, None)
        assert all(first.holds(f"x-{n}") for n in range(3))


def test_an_insert_of_rows_all_stored_before_stores_nothing(
    sessions: sessionmaker[Session],
) -> None:
    with unit_of_work(sessions) as session:
        _insert(session, range(3))
        again = _insert(session, [2, 0])
        assert again == Stored(0, 0, 0, set())
        assert not again.holds("x-0")
        assert repository.count_events(session) == 3


def test_an_insert_of_some_new_rows_names_exactly_those(sessions: sessionmaker[Session]) -> None:
    with unit_of_work(sessions) as session:
        before = _insert(session, range(3))
        mixed = _insert(session, [1, 7, 2, 8])
        assert before.last_seq < mixed.first_seq
        assert (mixed.count, mixed.first_seq, mixed.last_seq) == (2, *_seqs(session, "x-7", "x-8"))
        assert mixed.ids == {"x-7", "x-8"}
        assert [mixed.holds(f"x-{n}") for n in (1, 7, 2, 8)] == [False, True, False, True]


def test_a_chunk_larger_than_one_insert_statement_is_counted_whole(
    sessions: sessionmaker[Session],
) -> None:
    """SQLite writes 500 rows a statement: 1,201 rows take three, and the count, the seq
    range and which rows were stored cover all three (PostgreSQL: one COPY)."""
    with unit_of_work(sessions) as session:
        stored = _insert(session, range(1201))
        assert (stored.count, stored.last_seq - stored.first_seq, stored.ids) == (1201, 1200, None)
        again = _insert(session, range(1100, 1301))  # 101 taken, 100 new, over two statements
        assert stored.last_seq < again.first_seq
        assert (again.count, again.first_seq, again.last_seq) == (
            100,
            *_seqs(session, "x-1201", "x-1300"),
        )
        assert again.ids == {f"x-{n}" for n in range(1201, 1301)}
        assert repository.count_events(session) == 1301


def test_a_re_run_of_a_large_file_chunk_stores_nothing_new(
    sessions: sessionmaker[Session], wire: Callable[..., dict[str, Any]]
) -> None:
    events = [wire(i) for i in range(1201)]
    items = [(i, decode(msgspec.json.encode(e))) for i, e in enumerate(events)]
    with unit_of_work(sessions) as session:
        first = service.ingest(session, items, source="file", source_name="big.ndjson")
        assert (first.accepted, first.duplicates, first.last_seq - first.first_seq) == (
            1201,
            0,
            1200,
        )
    with unit_of_work(sessions) as session:
        again = service.ingest(session, items, source="file", source_name="big.ndjson")
        assert (again.accepted, again.duplicates, again.rejected) == (0, 1201, [])
        assert repository.count_events(session) == 1201


def test_a_conflicting_event_is_dead_lettered_at_its_own_place_in_the_file(
    sessions: sessionmaker[Session], wire: Callable[..., dict[str, Any]]
) -> None:
    """An id stored before, with other content, in a later file (row 4), and the same id
    twice in one file with two contents (rows 0 and 2): each refusal names its row."""

    def items(rows: dict[int, dict[str, Any]]) -> list[tuple[int | None, Any]]:
        return [(row, decode(msgspec.json.encode(e))) for row, e in rows.items()]

    with unit_of_work(sessions) as session:
        service.ingest(session, items({0: wire(1)}), source="file", source_name="a.ndjson")
    with unit_of_work(sessions) as session:
        report = service.ingest(
            session,
            items({4: wire(1, amount="9"), 0: wire(2), 2: wire(2, amount="7")}),
            source="file",
            source_name="b.ndjson",
        )
        assert (report.accepted, report.rejected_count) == (1, 2)
        letters, _ = repository.list_dead_letters(session)
        assert sorted((d.event_id, d.source_name, d.source_row) for d in letters) == [
            ("e-1", "b.ndjson", 4),
            ("e-2", "b.ndjson", 2),
        ]


def test_positions_in_the_report_count_from_the_start_of_the_input_across_chunks(
    sessions: sessionmaker[Session], wire: Callable[..., dict[str, Any]]
) -> None:
    """Chunks of two: a conflict at input position 4 (third chunk) is reported at 4."""
    events = [wire(i) for i in range(4)] + [wire(0, amount="3")]
    items = [(None, decode(msgspec.json.encode(e))) for e in events]
    with unit_of_work(sessions) as session:
        report = service.ingest(session, items, source="http", chunk_size=2)
        assert report.accepted == 4
        assert [(r.index, r.event_id) for r in report.rejected] == [(4, "e-0")]


def test_repeats_within_a_chunk_are_replays_whether_their_first_was_new_or_stored(
    sessions: sessionmaker[Session], wire: Callable[..., dict[str, Any]]
) -> None:
    """One chunk: e-1 (stored before) twice and e-5 (new) twice, each with its content
    unchanged: three replays, one event stored, nothing refused; then each with new content:
    both later copies are conflicts."""

    def items(events: list[dict[str, Any]]) -> list[tuple[int | None, Any]]:
        return [(row, decode(msgspec.json.encode(e))) for row, e in enumerate(events)]

    with unit_of_work(sessions) as session:
        service.ingest(session, items([wire(1)]), source="http")
    with unit_of_work(sessions) as session:
        report = service.ingest(session, items([wire(1), wire(5), wire(1), wire(5)]), source="http")
        assert (report.accepted, report.duplicates, report.rejected) == (1, 3, [])
    with unit_of_work(sessions) as session:
        changed = [wire(6), wire(1, amount="2"), wire(6, amount="2")]
        report = service.ingest(session, items([wire(1), *changed]), source="http")
        assert (report.accepted, report.duplicates) == (1, 1)
        assert [(r.index, r.event_id) for r in report.rejected] == [(2, "e-1"), (3, "e-6")]
