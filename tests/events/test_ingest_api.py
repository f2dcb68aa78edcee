"""``POST /v1/events`` and ``GET /v1/dead-letters`` on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
from fastapi.testclient import TestClient

Wire = Callable[..., dict[str, Any]]
NDJSON = {"content-type": "application/x-ndjson"}


def _count(client: TestClient) -> int:
    from riskops.events import repository
    from riskops.kernel.db import unit_of_work

    with unit_of_work(client.app.state.container.sessions) as session:  # type: ignore[attr-defined]
        return repository.count_events(session)


def _fields(body: dict[str, Any]) -> dict[int, set[str]]:
    return {r["index"]: {e["field"] for e in r["errors"]} for r in body["rejected"]}


def test_one_event_array_and_ndjson(client: TestClient, wire: Wire) -> None:
    one = client.post("/v1/events", json=wire(0))
    assert one.status_code == 202, one.text
    assert one.json() == {
        "accepted": 1,
        "duplicates": 0,
        "rejected": [],
        "first_seq": one.json()["first_seq"],
        "last_seq": one.json()["last_seq"],
    }
    many = client.post("/v1/events", json=[wire(i) for i in range(1, 6)]).json()
    assert (many["accepted"], many["last_seq"] - many["first_seq"]) == (5, 4)
    lines = b"\n".join(msgspec.json.encode(wire(i)) for i in range(6, 9)) + b"\n\n"
    nd = client.post("/v1/events", content=lines, headers=NDJSON).json()
    assert (nd["accepted"], nd["rejected"]) == (3, [])
    assert _count(client) == 9


def test_malformed_input_is_refused_per_field_and_kept(client: TestClient, wire: Wire) -> None:
    body = [
        wire(0),
        wire(1, amount="lots", success=True),  # wrong type, unknown field
        wire(2, type="teleport"),
        {"event_id": "e-3"},
        wire(4, occurred_at="2019-06-01T00:00:00Z"),  # out of order: accepted
        wire(5, tx_hash="x" * 5000),  # bigger than max_event_bytes (4096 in the test settings)
        wire(6, occurred_at="2025-03-01T12:00:00"),  # no UTC offset
        [1, 2],
    ]
    response = client.post("/v1/events", json=body)
    assert response.status_code == 202
    result = response.json()
    assert result["accepted"] == 2
    assert _fields(result) == {
        1: {"$.amount", "$.success"},
        2: {"$.type"},
        3: {"$.type"},
        5: {"$"},
        6: {"$.occurred_at"},
        7: {"$"},
    }
    reasons = {r["index"]: r["errors"][0]["reason"] for r in result["rejected"]}
    assert "unknown event type 'teleport'" in reasons[2]
    assert "limit is 4096" in reasons[5]
    assert [r["event_id"] for r in result["rejected"]][:2] == ["e-1", "e-2"]
    page = client.get("/v1/dead-letters", params={"limit": 100}).json()
    assert page["total"] == 6
    assert {d["source"] for d in page["items"]} == {"http"}
    assert _count(client) == 2


def test_truncated_and_empty_bodies(client: TestClient, wire: Wire) -> None:
    truncated = msgspec.json.encode([wire(0), wire(1)])[:-7]
    result = client.post(
        "/v1/events", content=truncated, headers={"content-type": "application/json"}
    ).json()
    assert result["accepted"] == 0
    assert "not valid JSON" in result["rejected"][0]["errors"][0]["reason"]
    empty = client.post("/v1/events", content=b"  ").json()
    assert "empty request body" in empty["rejected"][0]["errors"][0]["reason"]
    bad_line = msgspec.json.encode(wire(2)) + b'\n{"type": \n' + msgspec.json.encode(wire(3))
    nd = client.post("/v1/events", content=bad_line, headers=NDJSON).json()
    assert (nd["accepted"], _fields(nd)) == (2, {1: {"$"}})
    letters = client.get("/v1/dead-letters").json()
    assert letters["total"] == 3
    assert letters["items"][0]["raw"] == '{"type":'
    assert letters["items"][2]["raw"] == truncated.decode()
    assert client.post("/v1/events", json=[]).json()["accepted"] == 0


def test_body_over_the_limit_is_413(client: TestClient, wire: Wire) -> None:
    body = [wire(i, tx_hash="y" * 3000) for i in range(100)]  # ~330 KiB > 256 KiB
    response = client.post("/v1/events", json=body)
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    assert _count(client) == 0


def test_duplicates_across_requests(client: TestClient, wire: Wire) -> None:
    client.post("/v1/events", json=[wire(i) for i in range(3)])
    again = client.post("/v1/events", json=[wire(0), wire(1, amount="2"), wire(1), wire(3)]).json()
    assert (again["accepted"], again["duplicates"]) == (1, 2)
    assert _fields(again) == {1: {"$.event_id"}}
    assert again["rejected"][0]["errors"][0]["reason"] == (
        "event_id already used with different content"
    )
    assert _count(client) == 4


def test_dead_letter_pages_and_openapi(client: TestClient, wire: Wire) -> None:
    client.post("/v1/events", json=[wire(i, rail="owl") for i in range(7)])
    first = client.get("/v1/dead-letters", params={"limit": 3}).json()
    second = client.get("/v1/dead-letters", params={"limit": 3, "offset": 3}).json()
    assert first["total"] == second["total"] == 7
    assert [d["event_id"] for d in first["items"] + second["items"]] == [
        f"e-{i}" for i in range(6, 0, -1)
    ]
    assert client.get("/v1/dead-letters", params={"source": "nats"}).json()["total"] == 0
    one = client.get(f"/v1/dead-letters/{first['items'][0]['id']}").json()
    assert one["errors"][0]["field"] == "$.rail"
    assert client.get("/v1/dead-letters/999999").status_code == 404
    spec = client.get("/openapi.json").json()
    content = spec["paths"]["/v1/events"]["post"]["requestBody"]["content"]
    assert {"application/json", "application/x-ndjson"} <= set(content)
