"""The cheaper file-ingest pipeline stores exactly what the plain path stores (issue 9).

- NDJSON lines whose strings are surely printable decode into the event types' twins
  (``schemas.PLAIN_TYPES``), which skip ``isprintable``: the prepared rows and refusals
  are those of ``service.prepare`` over ``adapters.iter_batch``, for any text.
- A prepared chunk leaves ``firsts`` and consecutive ``indexes`` behind when pickled; the
  writer stores it as it stores the chunk itself, duplicates and conflicts included.
- ``stored_time`` remembers the last time: the same text as formatting each time.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
import pytest
from events_wire import wire_deposit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from riskops.events import adapters, repository, service, tasks, validation
from riskops.events.schemas import EVENT_TYPES, PLAIN_TYPES, TAG_OF
from riskops.kernel.db import unit_of_work

Wire = Callable[..., dict[str, Any]]


def _by_plain_path(lines: list[bytes], first_row: int = 0) -> service.Prepared:
    batch = adapters.Batch("ndjson", first_row, lines)
    return service.prepare(adapters.iter_batch(batch), first_row, "file", "f.ndjson")


def _by_storage_path(lines: list[bytes], first_row: int = 0) -> service.Prepared:
    return tasks.prepare_batch(adapters.Batch("ndjson", first_row, lines), "file", "f.ndjson")


def _same(a: service.Prepared, b: service.Prepared) -> None:
    assert a.rows == b.rows
    assert a.indexes == b.indexes
    assert a.firsts == b.firsts
    assert a.later == b.later
    assert a.report == b.report
    assert [{**d, "received_at": None} for d in a.dead] == [
        {**d, "received_at": None} for d in b.dead
    ]


def test_every_event_type_has_a_twin_that_encodes_alike() -> None:
    for tag, cls in EVENT_TYPES.items():
        twin = PLAIN_TYPES[cls]
        assert issubclass(twin, cls) and TAG_OF[twin] == TAG_OF[cls] == tag
        mine, theirs = twin.__struct_config__, cls.__struct_config__
        names = [name for name in dir(theirs) if not name.startswith("_")]
        assert "tag" in names and "forbid_unknown_fields" in names
        for name in names:
            assert getattr(mine, name) == getattr(theirs, name), (tag, name)
        assert twin.__struct_fields__ == cls.__struct_fields__
        assert twin.__struct_encode_fields__ == cls.__struct_encode_fields__


def test_is_printable_says_which_texts_hold_only_printable_strings() -> None:
    assert validation.is_printable(b'{"a":"b c~"}')
    assert not validation.is_printable(b'{"a":"b\\u0000"}')  # an escape: maybe not
    assert not validation.is_printable(b'{"a":"b\\n"}')
    assert not validation.is_printable(b'{"a":"b\x7f"}')  # DEL, which JSON lets through
    assert not validation.is_printable('{"a":"b\u200b"}'.encode())  # not ASCII
    assert not validation.is_printable('{"a":"\u00e9"}'.encode())


# Values put into the string fields of events: printable or not, ASCII or not, escaped or
# raw; msgspec escapes the control characters except DEL, which it writes as it is.
_TEXT = st.one_of(
    st.text(st.characters(max_codepoint=0x7F), max_size=12),
    st.text(st.characters(max_codepoint=0x2FFF), max_size=6),
    st.sampled_from(["", " ", " x", "x ", "x\x7f", "\x85", "a\u200bb", "x\ty", "10.0.0.1", "::1"]),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=120, max_size=140),
)
_FIELDS = (
    "event_id",
    "account_id",
    "tx_hash",
    "chain",
    "ip",
    "device_id",
    "user_agent",
    "counterparty_id",
    "address",
    "amount",
    "usd_value",
    "occurred_at",
)
_TYPES = ("deposit", "login", "transfer.internal", "withdrawal.requested", "session")


def _event(wire: Wire, i: int, kind: str, changes: dict[str, str]) -> dict[str, Any]:
    event = wire(i)
    if kind == "login":
        for name in ("asset", "amount", "usd_value", "rail", "tx_hash"):
            event.pop(name)
        event.update(type="login", success=True, ip="10.1.2.3")
    elif kind == "session":
        for name in ("asset", "amount", "usd_value", "rail", "tx_hash"):
            event.pop(name)
        event.update(type="session", device_id="d-1")
    elif kind == "transfer.internal":
        event.pop("rail")
        event.pop("tx_hash")
        event.update(type="transfer.internal", counterparty_id="acct-x")
    elif kind == "withdrawal.requested":
        event.pop("tx_hash")
        event.update(type="withdrawal.requested", address="T123", chain="TRON")
    event.update(changes)
    return event


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(_TYPES),
            st.dictionaries(st.sampled_from(_FIELDS), _TEXT, max_size=3),
            st.integers(0, 5),  # event number: the same one again is a repeated id
        ),
        min_size=1,
        max_size=12,
    )
)
def test_the_storage_path_prepares_what_the_plain_path_prepares(
    specs: list[tuple[str, dict[str, str], int]],
) -> None:
    lines = [
        msgspec.json.encode(_event(wire_deposit, i, kind, changes)) for kind, changes, i in specs
    ]
    _same(_by_storage_path(lines, 40), _by_plain_path(lines, 40))


def test_a_twin_refuses_what_its_type_refuses_with_the_same_reason(wire: Wire) -> None:
    refused = [
        wire(1, event_id=" e-1"),
        wire(2, account_id="   "),
        wire(3, event_id="x" * 129),
        wire(4, amount="0.0000000000000000001"),
        wire(5, usd_value="1.001"),
        wire(6, occurred_at="2001-01-01T00:00:00Z"),
        wire(7, schema_version=2),
        _event(wire, 8, "login", {"ip": "10.0.0.999"}),
        wire(9, tx_hash="a\x7fb"),  # DEL, raw: not the twins' path
        wire(10, tx_hash="a\u0085b"),  # C1, not ASCII
        wire(11, tx_hash="a\x00b"),  # escaped
    ]
    lines = [msgspec.json.encode(event) for event in refused]
    by_storage, by_plain = _by_storage_path(lines), _by_plain_path(lines)
    _same(by_storage, by_plain)
    assert by_storage.report.rejected_count == len(refused)


def _dup_chunk(wire: Wire, *, refuse: bool) -> list[bytes]:
    events = [wire(i) for i in range(6)] + [wire(2), wire(3, amount="9.5")]  # replay, conflict
    if refuse:
        events.insert(1, wire(99, account_id=" no"))
    return [msgspec.json.encode(e) for e in events]


@pytest.mark.parametrize("refuse", [False, True])
def test_a_pickled_chunk_travels_light_and_is_stored_alike(
    engine: Engine, sessions: sessionmaker[Session], wire: Wire, refuse: bool
) -> None:
    lines = _dup_chunk(wire, refuse=refuse)
    chunk = _by_storage_path(lines, 100)
    state = chunk.__getstate__()
    assert state["firsts"] == {}
    assert isinstance(state["indexes"], tuple) is (not refuse)  # consecutive: a span
    travelled = pickle.loads(pickle.dumps(chunk))
    assert travelled.indexes == chunk.indexes
    assert travelled.first_rows() == chunk.firsts
    # Some ids already stored (one alike, one not): the taken ids are looked up by row.
    with unit_of_work(sessions) as session:
        earlier = _by_plain_path([msgspec.json.encode(wire(0)), msgspec.json.encode(wire(4))])
        earlier.rows[11] = earlier.rows[11].replace("0.25", "0.5")  # e-4 stored otherwise
        service.store(session, earlier)
    with unit_of_work(sessions) as session:
        report = service.store(session, pickle.loads(pickle.dumps(chunk)))
    with unit_of_work(sessions) as session:
        rows = [(r.event_id, r.source_row, r.payload) for r in repository.read_after(session, 2)]
    expected = [(f"e-{i}", 100 + i + (i > 0 and refuse), None) for i in (1, 2, 3, 5)]
    assert [(e, r) for e, r, _ in rows] == [(e, r) for e, r, _ in expected]
    assert report.accepted == 4
    assert report.duplicates == 2  # e-0 (stored before) and e-2 (again in the chunk)
    conflicts = [item.event_id for item in report.rejected if item.event_id != "e-99"]
    assert conflicts == ["e-4", "e-3"]  # by position: e-4 stored otherwise, e-3 again changed
    assert [item.index for item in report.rejected] == sorted(i.index for i in report.rejected)


_ZONES = st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(minutes=-330))])


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.datetimes(
                min_value=datetime(2009, 1, 1), max_value=datetime(2030, 1, 1), timezones=_ZONES
            ),
            st.booleans(),  # the same instant again, in another zone
        ),
        min_size=1,
        max_size=20,
    )
)
def test_stored_time_is_the_utc_text_of_each_time(moments: list[tuple[datetime, bool]]) -> None:
    for moment, again in moments:
        times = [moment, moment.astimezone(timezone(timedelta(hours=-7)))] if again else [moment]
        for each in times:
            expected = each.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
            assert repository.stored_time(each) == expected
