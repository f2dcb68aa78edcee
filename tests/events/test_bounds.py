"""One table of hostile values, run through every way an event comes in (ADR 0015).

HTTP (``POST /v1/events``, ``POST /v1/decisions``), an NDJSON file, a CSV file, a Parquet
file (the column path) and the NATS consumer's decode function must each refuse every row
of the table, name the same field with the same reason, and keep a dead letter.
"""

from __future__ import annotations

import csv
import ipaddress
import types
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from riskops.events import nats, repository, service, validation
from riskops.events.schemas import PROBLEMS, bounded_fields
from riskops.events.tabular import wire_dicts_to_table
from riskops.events.tasks import ingest_file
from riskops.events.validation import Rejection
from riskops.kernel.bounds import identifier_problem, ip_fast, ip_problem
from riskops.kernel.db import unit_of_work
from support import bearer, token_for

Reasons = dict[str, str]  # field -> reason

_AHEAD = (datetime.now(UTC) + timedelta(hours=1)).isoformat()


def _deposit(**changes: Any) -> dict[str, Any]:
    event = {
        "type": "deposit",
        "event_id": "d",
        "account_id": "acct-1",
        "occurred_at": "2025-03-01T12:00:00Z",
        "asset": "BTC",
        "amount": "0.25",
        "usd_value": "15000.00",
        "rail": "crypto",
    }
    return {**event, **changes}


def _login(**changes: Any) -> dict[str, Any]:
    event = {
        "type": "login",
        "event_id": "l",
        "account_id": "acct-1",
        "occurred_at": "2025-03-01T12:00:00Z",
        "success": True,
    }
    return {**event, **changes}


def _kyc(**changes: Any) -> dict[str, Any]:
    event = {
        "type": "kyc.submitted",
        "event_id": "k",
        "account_id": "acct-1",
        "occurred_at": "2025-03-01T12:00:00Z",
        "level": 1,
    }
    return {**event, **changes}


def _trade(**changes: Any) -> dict[str, Any]:
    return _deposit(type="trade", side="buy", quote_asset="USDT", rail=None, **changes)


# (what, event, the field refused): every value here fits a CSV cell and a Parquet column.
HOSTILE: list[tuple[str, dict[str, Any], str]] = [
    ("blank account", _deposit(account_id="   "), "$.account_id"),
    ("account with a leading space", _deposit(account_id=" a"), "$.account_id"),
    ("account with a trailing space", _login(account_id="a "), "$.account_id"),
    ("NUL in the event id", _deposit(event_id="e\x00"), "$.event_id"),
    ("a tab in the account", _login(account_id="a\tb"), "$.account_id"),
    ("a zero-width space in an id", _deposit(account_id="a\u200bb"), "$.account_id"),
    ("an ideographic space as an id", _login(account_id="\u3000"), "$.account_id"),
    ("an id too long", _deposit(account_id="a" * 129), "$.account_id"),
    ("NUL in text", _deposit(tx_hash="0x\x00"), "$.tx_hash"),
    ("a C1 control in text", _login(device_id="dev\x85"), "$.device_id"),
    ("DEL in text", _login(user_agent="Mozilla\x7f"), "$.user_agent"),
    ("an escape sequence in text", _login(user_agent="\x1b[31mred"), "$.user_agent"),
    ("usd_value 1e30", _deposit(usd_value="1e30"), "$.usd_value"),
    ("usd_value a cent over the ceiling", _deposit(usd_value="1000000000000.01"), "$.usd_value"),
    ("usd_value negative", _deposit(usd_value="-1"), "$.usd_value"),
    ("usd_value in tenths of cents", _deposit(usd_value="1.001"), "$.usd_value"),
    ("amount 1e400", _deposit(amount="1e400"), "$.amount"),
    ("amount over the ceiling", _deposit(amount="1000000000000001"), "$.amount"),
    ("amount with 19 decimals", _deposit(amount="0.0000000000000000001"), "$.amount"),
    ("amount zero", _deposit(amount="0"), "$.amount"),
    ("amount NaN", _deposit(amount="NaN"), "$.amount"),
    ("price negative", _trade(price="-2000"), "$.price"),
    ("year 9999", _deposit(occurred_at="9999-12-31T00:00:00Z"), "$.occurred_at"),
    ("year 0001", _login(occurred_at="0001-01-01T00:00:00Z"), "$.occurred_at"),
    ("before 2009", _deposit(occurred_at="2008-12-31T23:59:59Z"), "$.occurred_at"),
    ("an hour ahead", _deposit(occurred_at=_AHEAD), "$.occurred_at"),
    ("an ip that is no ip", _login(ip="not-an-ip"), "$.ip"),
    ("an ip with a space", _login(ip="10.0.0.1 "), "$.ip"),
    ("an ip out of range", _login(ip="256.1.1.1"), "$.ip"),
    ("an ip with leading zeros", _login(ip="010.0.0.1"), "$.ip"),
    ("born in 1800", _kyc(date_of_birth="1800-01-01"), "$.date_of_birth"),
]
# Bodies only JSON can carry (not a CSV cell, not a typed column): (what, raw, field).
HOSTILE_JSON: list[tuple[str, bytes, str]] = [
    ("not UTF-8", b'{"type": "deposit", "event_id": "\xff\xfe"}', "$"),
    ("a lone surrogate half", b'{"type": "login", "account_id": "\xed\xa0\x80"}', "$"),
    ("nested 40 deep", b'{"type": "login", "x": ' + b"[" * 40 + b"]" * 40 + b"}", "$"),
    ("nested 2,000 deep", b"[" * 2_000 + b"]" * 2_000, "$"),  # beyond the parser's recursion
    ("type an object", b'{"type": {}, "event_id": "t"}', "$.type"),
    ("type an array", b'{"type": ["deposit"]}', "$.type"),
    ("type a number", b'{"type": 1e400}', "$.type"),
    (
        "amount 1e400 as a number",
        msgspec.json.encode(_deposit()).replace(b'"0.25"', b"1e400"),
        "$.amount",
    ),
    (
        "level 2**64",
        msgspec.json.encode(_kyc()).replace(b'"level":1', b'"level":18446744073709551616'),
        "$.level",
    ),
    ("a NUL escape", msgspec.json.encode(_deposit(account_id="a\x00")), "$.account_id"),
]


def _json(event: dict[str, Any]) -> bytes:
    return msgspec.json.encode({k: v for k, v in event.items() if v is not None})


def _named(reasons: list[dict[str, str]] | list[validation.FieldError]) -> Reasons:
    pairs = [
        (e["field"], e["reason"]) if isinstance(e, dict) else (e.field, e.reason) for e in reasons
    ]
    return dict(pairs)


# --- the paths --------------------------------------------------------------------------


def _http_events(client: TestClient, raws: list[bytes]) -> list[Reasons]:
    answers = []
    for raw in raws:
        response = client.post(
            "/v1/events", content=raw, headers={"content-type": "application/json"}
        )
        assert response.status_code == 202, response.text
        body = response.json()
        assert body["accepted"] == 0 and len(body["rejected"]) == 1, body
        answers.append(_named(body["rejected"][0]["errors"]))
    return answers


def _http_decisions(client: TestClient, token: str, raws: list[bytes]) -> list[Reasons]:
    answers = []
    for raw in raws:
        response = client.post(
            "/v1/decisions",
            content=raw,
            headers={"content-type": "application/json", **bearer(token)},
        )
        assert response.status_code == 422, response.text
        answers.append(_named(response.json()["details"]))
    return answers


def _from_file(path: Path, sessions: sessionmaker[Session], count: int) -> list[Reasons]:
    report = ingest_file(path, None, None, sessions, workers=0)
    assert report.accepted == 0 and report.rejected_count == count
    with unit_of_work(sessions) as session:
        letters, _ = repository.list_dead_letters(session, limit=500)
        views = [service.dead_letter_view(d) for d in letters if d.source_name == path.name]
    by_row = {view["source_row"]: _named(view["errors"]) for view in views}
    return [by_row[row] for row in range(count)]


def _nats(raws: list[bytes]) -> list[Reasons]:
    answers = []
    for position, raw in enumerate(raws):
        meta = types.SimpleNamespace(sequence=types.SimpleNamespace(stream=position))
        [(row, result)] = nats._parse(types.SimpleNamespace(data=raw, metadata=meta), 64 * 1024)
        assert row == position and isinstance(result, Rejection)
        answers.append(_named(result.errors))
    return answers


def _dead_letters(sessions: sessionmaker[Session]) -> int:
    with unit_of_work(sessions) as session:
        return repository.list_dead_letters(session, limit=1)[1]


def _write_csv(path: Path, events: list[dict[str, Any]]) -> None:
    names = sorted({name for event in events for name in event})
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, names)
        writer.writeheader()
        for event in events:
            writer.writerow(
                {
                    k: "" if v is None else str(v).lower() if isinstance(v, bool) else v
                    for k, v in event.items()
                }
            )


def _write_parquet(path: Path, events: list[dict[str, Any]]) -> None:
    pq.write_table(wire_dicts_to_table(events), path)


# --- the tests --------------------------------------------------------------------------


def test_every_path_refuses_the_table_alike(
    client: TestClient, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    engine = sessions.kw["bind"]
    events = [
        {**event, "event_id": f"h-{i}"} if "event_id" not in field else event
        for i, (_, event, field) in enumerate(HOSTILE)
    ]
    raws = [_json(e) for e in events]
    ndjson, csv_path, parquet = tmp_path / "h.ndjson", tmp_path / "h.csv", tmp_path / "h.parquet"
    ndjson.write_bytes(b"\n".join(raws) + b"\n")
    _write_csv(csv_path, [{k: v for k, v in e.items() if v is not None} for e in events])
    _write_parquet(parquet, [{k: v for k, v in e.items() if v is not None} for e in events])
    token = token_for(engine, ["decision:request"])

    before = _dead_letters(sessions)
    paths: dict[str, list[Reasons]] = {
        "POST /v1/events": _http_events(client, raws),
        "POST /v1/decisions": _http_decisions(client, token, raws),
        "NDJSON": _from_file(ndjson, sessions, len(raws)),
        "CSV": _from_file(csv_path, sessions, len(raws)),
        "Parquet": _from_file(parquet, sessions, len(raws)),
        "NATS": _nats(raws),
    }
    for i, (what, _, field) in enumerate(HOSTILE):
        seen = {path: answers[i].get(field) for path, answers in paths.items()}
        assert all(seen.values()), f"{what}: {field} not refused by {seen}"
        assert len(set(seen.values())) == 1, f"{what}: the paths disagree: {seen}"
    # every refusal of every path but NATS's decode (stored by the consumer) is kept
    assert _dead_letters(sessions) - before == 5 * len(HOSTILE)


@pytest.mark.parametrize(("what", "raw", "field"), HOSTILE_JSON, ids=[h[0] for h in HOSTILE_JSON])
def test_json_only_hostility_is_refused_by_every_json_path(
    client: TestClient,
    sessions: sessionmaker[Session],
    tmp_path: Path,
    what: str,
    raw: bytes,
    field: str,
) -> None:
    engine = sessions.kw["bind"]
    ndjson = tmp_path / "h.ndjson"
    ndjson.write_bytes(raw + b"\n")
    before = _dead_letters(sessions)
    paths = {
        "POST /v1/events": _http_events(client, [raw]),
        "POST /v1/decisions": _http_decisions(
            client, token_for(engine, ["decision:request"]), [raw]
        ),
        "NDJSON": _from_file(ndjson, sessions, 1),
        "NATS": _nats([raw]),
    }
    seen = {path: answers[0].get(field) for path, answers in paths.items()}
    assert all(seen.values()), f"{field} not refused by {seen}"
    assert len(set(seen.values())) == 1, f"the paths disagree: {seen}"
    assert _dead_letters(sessions) - before == 3


def test_the_bounds_are_the_case_intakes() -> None:
    """What the edge accepts as an account id, the case intake accepts too (one check)."""
    from riskops.cases import alert_intake
    from riskops.cases.models import AlertSource
    from riskops.cases.schemas import AlertIn
    from riskops.kernel.errors import ValidationFailed

    for _, event, field in HOSTILE:
        if field != "$.account_id":
            continue
        alert = AlertIn(
            source=AlertSource.MONITOR,
            source_ref="1",
            account_id=event["account_id"],
            kind="r",
            title="t",
        )
        with pytest.raises(ValidationFailed):
            alert_intake._validate(alert)


def test_amlworld_rows_outside_the_bounds_name_their_column(tmp_path: Path) -> None:
    from riskops.events.amlworld import HEADER, read_amlworld

    rows = {
        "2008/12/31 23:59,10,A1,20,B2,10.00,US Dollar,10.00,US Dollar,Wire,0": "$.Timestamp",
        "2022/09/01 00:20,10,A\x00,20,B2,10.00,US Dollar,10.00,US Dollar,Wire,0": "$.Account",
        "2022/09/01 00:20,10,A1,20,B2 ,10.00,US Dollar,10.00,US Dollar,Wire,0": "$.Account",
        "2022/09/01 00:20,10,A1,20,B2,1,US Dollar,1e400,US Dollar,Wire,0": "$.Amount Paid",
        "2022/09/01 00:20,10,A1,20,B2,1,Bitcoin,1e12,Bitcoin,Wire,0": "$.Amount Paid",
        "2022/09/01 00:20,10,A1,20,B2,1,US Dollar,1,US Dollar,Wi\x1bre,0": "$.Payment Format",
    }
    path = tmp_path / "x_Trans.csv"
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    results = list(read_amlworld(path))
    assert len(results) == len(rows)
    for (_, result), (line, column) in zip(results, rows.items(), strict=True):
        assert isinstance(result, Rejection), line
        assert [e.field for e in result.errors] == [column], line


# --- generated: every input is either refused with reasons, or an event within bounds ----

_anything = st.one_of(
    st.text(max_size=300),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.integers(-(2**70), 2**70),
    st.floats(),
    st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()),
    st.none(),
    st.booleans(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)
_fields = ["event_id", "account_id", "occurred_at", "amount", "usd_value", "ip", "device_id"]


@settings(max_examples=50, deadline=None)
@given(
    base=st.sampled_from([_deposit(), _login(), _kyc(), _trade()]),
    changes=st.dictionaries(st.sampled_from(_fields), _anything, min_size=1, max_size=3),
)
def test_any_value_is_refused_with_a_reason_or_within_the_bounds(
    base: dict[str, Any], changes: dict[str, Any]
) -> None:
    event = {k: v for k, v in {**base, **changes}.items() if v is not None or k in changes}
    raw = msgspec.json.encode(event)
    result = validation.decode(raw)
    if isinstance(result, Rejection):
        assert result.errors and all(e.field.startswith("$") and e.reason for e in result.errors)
        return
    # accepted: every bound holds (the monitor and the case intake need no more)
    for name, _, bound in bounded_fields(type(result)):
        value = getattr(result, name)
        assert value is None or PROBLEMS[bound](value) is None, (name, value)
    assert identifier_problem(result.account_id) is None


@settings(max_examples=50, deadline=None)
@given(
    st.one_of(st.ip_addresses().map(str), st.text(alphabet="0123456789abcdef:.%ex ", max_size=45))
)
def test_the_fast_ip_check_never_accepts_what_ipaddress_refuses(value: str) -> None:
    if ip_fast(value):
        ipaddress.ip_address(value)  # raises if the fast path were wrong
    assert (ip_problem(value) is None) == _parses(value)


def _parses(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
