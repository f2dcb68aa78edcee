"""The dead-letter store holds any input exactly, once, on SQLite and PostgreSQL.

Hostile input of every kind (NUL, lone surrogates, bytes that are not UTF-8, binary) is
refused and kept byte for byte, from every source: the HTTP API, NDJSON and CSV files,
and the SMS webhook (NATS in ``test_nats_ingest``). The same input from the same place
(a re-run of a file, a repeated request body) is one dead letter.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from riskops.events import repository, service
from riskops.events.models import DeadLetter
from riskops.events.tasks import ingest_file
from riskops.events.validation import FieldError, Rejection
from riskops.kernel.clock import utcnow
from riskops.kernel.db import unit_of_work

Wire = Callable[..., dict[str, Any]]
NDJSON = {"content-type": "application/x-ndjson"}

# Members of the class: what PostgreSQL text refuses (NUL), what no driver encodes (lone
# surrogates, from JSON escapes or file names), bytes that are not UTF-8, and binary.
HOSTILE = [
    b"\x00",
    b'{"type": "deposit", "event_id": "a\x00b"}',  # a raw NUL in a string: not JSON
    b'{"type": "teleport", "event_id": "a\\u0000b"}',  # a NUL escape: JSON, refused
    b'{"type": "teleport", "event_id": "\\ud800"}',  # a lone surrogate escape
    b'{"type": "teleport", "event_id": "x", "\\udfff\\u0000": 1}',  # in a field name
    b"\xff\xfe\xfd",
    b'{"type": "deposit", "event_id": "\xff"}',  # invalid UTF-8 inside JSON
    b"\xc3\x28",  # a truncated UTF-8 sequence
    bytes(range(256)),
]
_NUL_TEXT = st.sampled_from(["\x00", "\ud800", "\udfff", "\udcff", "\ufffd", "é"])
HOSTILE_TEXT = st.lists(st.one_of(st.characters(), _NUL_TEXT), max_size=20).map("".join)


def _letters(sessions: sessionmaker[Session]) -> list[DeadLetter]:
    with unit_of_work(sessions) as session:
        return list(session.scalars(select(DeadLetter).order_by(DeadLetter.id)))


def _kept(sessions: sessionmaker[Session], raw: bytes, source_name: str) -> list[DeadLetter]:
    digest = hashlib.sha256(raw).hexdigest()
    query = select(DeadLetter).where(
        DeadLetter.digest == digest, DeadLetter.source_name == source_name
    )
    with unit_of_work(sessions) as session:
        return list(session.scalars(query))


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=st.one_of(st.binary(max_size=300), st.sampled_from(HOSTILE)), text=HOSTILE_TEXT)
def test_any_bytes_and_any_text_are_kept(
    sessions: sessionmaker[Session], raw: bytes, text: str
) -> None:
    refused = Rejection([FieldError(f"$.{text}", f"bad {text}")], raw, event_id=text[:128])
    with unit_of_work(sessions) as session:
        report = service.ingest(session, [(7, refused)], source="file", source_name=text)
    assert report.rejected_count == 1
    # The report is JSON (the API answers with it), whatever the input held.
    msgspec.json.encode(report)
    (letter,) = _kept(sessions, raw, repository.storable(text))
    assert letter.raw == raw
    view = service.dead_letter_view(letter)
    assert service.exact_raw(view) == raw
    line = msgspec.json.encode(view)  # what `riskops dead-letters --json` prints
    assert service.exact_raw(msgspec.json.decode(line)) == raw
    # Text columns keep what they can: the same text where it was storable, escaped if not.
    assert letter.source_name == repository.storable(text)
    assert letter.event_id == repository.storable(text[:128])
    assert "\x00" not in letter.reason and "\x00" not in (letter.event_id or "")


@pytest.mark.parametrize(
    "text, stored",
    [
        ("plain é", "plain é"),
        ("a\x00b", "a\\x00b"),
        ("\ud800x", "\\ud800x"),
        ("name\udcff.ndjson", "name\\udcff.ndjson"),  # a file name that is not UTF-8
    ],
)
def test_storable_escapes_only_what_a_database_refuses(text: str, stored: str) -> None:
    assert repository.storable(text) == stored
    stored.encode("utf-8")


def test_hostile_http_bodies_are_kept_once(client: TestClient) -> None:
    for body in HOSTILE:
        for _ in range(2):  # the same refused body twice: one dead letter
            response = client.post(
                "/v1/events", content=body, headers={"content-type": "application/json"}
            )
            assert response.status_code < 500, (body, response.text)
    ndjson = b"\n".join(HOSTILE[:5]) + b"\n"
    assert client.post("/v1/events", content=ndjson, headers=NDJSON).status_code < 500
    page = client.get("/v1/dead-letters", params={"limit": 100})
    assert page.status_code == 200
    kept = [service.exact_raw(item) for item in page.json()["items"]]
    # Every hostile body once (NDJSON lines are stripped, so b"\x00" adds nothing new).
    assert sorted(kept) == sorted(HOSTILE)
    first = page.json()["items"][-1]
    one = client.get(f"/v1/dead-letters/{first['id']}").json()
    assert service.exact_raw(one) == HOSTILE[0]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.binary(min_size=1, max_size=200))
def test_any_http_body_is_answered_and_kept(client: TestClient, body: bytes) -> None:
    response = client.post("/v1/events", content=body, headers={"content-type": "application/json"})
    assert response.status_code < 500, response.text
    if response.status_code == 202 and not response.json()["rejected"]:
        return  # random bytes that are events, or "[]": nothing refused, nothing to keep
    page = client.get("/v1/dead-letters", params={"limit": 500}).json()
    assert {body, body.strip()} & {service.exact_raw(item) for item in page["items"]}


def test_hostile_decision_requests_are_kept_once(client: TestClient, engine: Any) -> None:
    """``POST /v1/decisions`` refuses what is not an event with a 4xx; the body is kept."""
    from support import bearer, token_for

    token = bearer(token_for(engine, ["decision:request"], name="decider"))
    for body in HOSTILE:
        for _ in range(2):
            response = client.post(
                "/v1/decisions",
                content=body,
                headers={**token, "content-type": "application/json"},
            )
            assert 400 <= response.status_code < 500, (body, response.text)
    page = client.get("/v1/dead-letters", params={"limit": 100, "source": "api"}).json()
    assert sorted(service.exact_raw(item) for item in page["items"]) == sorted(HOSTILE)


def test_hostile_ndjson_lines_are_kept_and_a_rerun_adds_nothing(
    tmp_path: Path, sessions: sessionmaker[Session], wire: Wire
) -> None:
    good = [msgspec.json.encode(wire(i)) for i in range(3)]
    hostile = [line for line in HOSTILE if b"\n" not in line]
    path = tmp_path / "hostile.ndjson"
    path.write_bytes(b"\n".join(good + hostile) + b"\n")
    report = ingest_file(path, "ndjson", None, sessions, chunk_size=4, workers=0)
    assert (report.accepted, report.rejected_count) == (3, len(hostile))
    again = ingest_file(path, "ndjson", None, sessions, chunk_size=4, workers=0)
    assert (again.accepted, again.duplicates, again.rejected_count) == (0, 3, len(hostile))
    letters = _letters(sessions)
    by_row = {d.source_row: d.raw for d in letters}
    assert len(letters) == len(hostile)
    assert by_row == {3 + i: line.strip() for i, line in enumerate(hostile)}


def test_hostile_csv_cells_are_kept(
    tmp_path: Path, sessions: sessionmaker[Session], wire: Wire
) -> None:
    path = tmp_path / "hostile.csv"
    rows = [
        "type,event_id,account_id,occurred_at,asset,amount,usd_value,rail,tx_hash",
        "deposit,e-1,acct-1,2025-03-01T12:00:00Z,BTC,0.25,15000.00,crypto,0x1",
        "teleport,a\x00b,acct-1,2025-03-01T12:00:00Z,BTC,0.25,15000.00,crypto,0x2",
        "deposit,e-3,acct-\x00,2025-03-01T12:00:00Z,BTC,lots,15000.00,crypto,0x3",
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    for _ in range(2):
        report = ingest_file(path, "csv", None, sessions)
        assert report.rejected_count == 2
    letters = _letters(sessions)
    assert [d.source_row for d in letters] == [1, 2]  # data rows from 0
    # A CSV row is kept as the JSON of its cells: the NUL is there, escaped.
    cells = [msgspec.json.decode(d.raw) for d in letters]
    assert (cells[0]["event_id"], cells[1]["account_id"]) == ("a\x00b", "acct-\x00")
    assert letters[0].event_id == "a\\x00b"


def test_a_conflict_is_one_dead_letter_however_often_it_comes(
    sessions: sessionmaker[Session], wire: Wire
) -> None:
    from riskops.events.validation import decode

    with unit_of_work(sessions) as session:
        service.ingest(session, [(None, decode(msgspec.json.encode(wire(1))))], source="http")
    changed = decode(msgspec.json.encode(wire(1, amount="9")))
    for _ in range(3):
        with unit_of_work(sessions) as session:
            report = service.ingest(session, [(None, changed), (None, changed)], source="http")
        assert report.rejected_count == 2
    (letter,) = _letters(sessions)
    assert letter.reason == service.CONFLICT


def test_the_same_bytes_from_other_places_are_other_dead_letters(
    sessions: sessionmaker[Session],
) -> None:
    refused = Rejection([FieldError("$", "not valid JSON")], b"\x00garbage")
    places = [("file", "a.ndjson", 1), ("file", "a.ndjson", 2), ("file", "b.ndjson", 1)]
    places += [("nats", "EVENTS", 1), ("http", None, None)]
    for _ in range(2):
        for source, name, row in places:
            with unit_of_work(sessions) as session:
                service.ingest(session, [(row, refused)], source=source, source_name=name)
    letters = _letters(sessions)
    assert sorted((d.source, d.source_name or "", d.source_row or 0) for d in letters) == sorted(
        (s, n or "", r or 0) for s, n, r in places
    )
    assert {d.digest for d in letters} == {hashlib.sha256(b"\x00garbage").hexdigest()}


def test_a_text_raw_from_other_packages_is_kept_as_utf8(sessions: sessionmaker[Session]) -> None:
    row = {
        "received_at": utcnow(),
        "source": "monitor",
        "source_name": None,
        "source_row": 41,
        "event_id": "e-\x00",
        "reason": "cannot decide: \ud800",
        "errors": "[]",
        "raw": '{"event_id": "e-\\u0000", "note": "é\ud800"}',
    }
    with unit_of_work(sessions) as session:
        repository.insert_dead_letters(session, [row, row])
        repository.insert_dead_letters(session, [row])
    (letter,) = _letters(sessions)
    assert letter.raw.decode("utf-8", "surrogatepass") == row["raw"]
    assert (letter.event_id, letter.reason) == ("e-\\x00", "cannot decide: \\ud800")
