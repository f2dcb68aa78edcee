"""Every default rule fires on the test corpus, and both engines agree on every row.

The corpus joins a simulated exchange, the start of the third-party AMLSim file and a few
hand-made sequences for the rules that neither data set triggers. A rule that never fires
would prove nothing about parity, so the test first checks that each one does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import msgspec
import pytest

from riskops.events.adapters import read_events
from riskops.events.flat import to_rows
from riskops.events.schemas import Event
from riskops.events.validation import decode
from riskops.rules.definition import load_default_pack
from riskops.rules.lists import ListStore, default_lists
from riskops.rules.parity import parity_check, sort_rows
from riskops.rules.stream import StreamEvaluator
from support import AMLSIM_TRANS as AMLSIM
from support import require_data, simulated_rows

DAY = 86_400


def _event(kind: str, n: int, account: str, at: int, **fields: Any) -> Event:
    from datetime import UTC, datetime

    body = {
        "type": kind,
        "event_id": f"hand-{n}",
        "account_id": account,
        "occurred_at": datetime.fromtimestamp(at, UTC).isoformat(),
        **fields,
    }
    event = decode(msgspec.json.encode(body))
    assert isinstance(event, Event), event
    return event


HAND_SANCTIONED = "TXhandSanctioned1"  # the corpus's sanctions list holds it too


def handmade(start: int) -> Iterator[Event]:
    """Sequences for rules no data set triggers: brute force on one account; a dormant one."""
    n = 0
    for i in range(6):  # CS-003: five failures then a success within the hour
        n += 1
        yield _event("login", n, "hand-bf", start + 60 * i, success=i == 5, ip="198.51.100.7")
    money = {"asset": "USDT", "rail": "crypto"}
    n += 1
    yield _event(
        "withdrawal.requested",
        n,
        "hand-dormant",
        start,
        amount="100",
        usd_value="100.00",
        address="TXdormant1",
        **money,
    )
    n += 1
    yield _event(  # BC-001: 120 idle days, then USD 8,000
        "withdrawal.requested",
        n,
        "hand-dormant",
        start + 120 * DAY,
        amount="8000",
        usd_value="8000.00",
        address="TXdormant2",
        **money,
    )
    for i in range(5):  # MA-005 and MA-001: five sign-ups from one IP and device in a day
        n += 1
        yield _event(
            "account.created",
            n,
            f"hand-ring-{i}",
            start + 600 * i,
            ip="203.0.113.9",
            device_id="dev-hand-ring",
        )
    n += 1  # GEO-001: USD 12,000 requested from Nigeria by an account declared in Britain
    yield _event("account.created", n, "hand-abroad", start, country="GB")
    n += 1
    yield _event(
        "withdrawal.requested",
        n,
        "hand-abroad",
        start + DAY,
        amount="12000",
        usd_value="12000.00",
        address="TXabroad1",
        ip="41.58.0.1",
        ip_country="NG",
        **money,
    )
    n += 1  # SX-002: a deposit from the listed address (HAND_SANCTIONED, added to the list)
    deposit = {"amount": "300", "usd_value": "300.00", "source_address": HAND_SANCTIONED}
    yield _event("deposit", n, "hand-abroad", start + DAY, **deposit, **money)
    for i in range(3):  # MA-003: one card funds three accounts
        n += 1
        yield _event(
            "deposit",
            n,
            f"hand-ring-{i}",
            start + DAY + 600 * i,
            asset="USD",
            amount="50",
            usd_value="50.00",
            rail="card",
            instrument_id="card-shared",
        )
    for i, (kind, usd, address) in enumerate(  # SV-001: two small withdrawals, then a
        (  # large deposit sent on to a new address within the hour (38x the usual)
            ("withdrawal.requested", "500", "TXown1"),
            ("withdrawal.requested", "500", "TXown1"),
            ("deposit", "20000", None),
            ("withdrawal.requested", "19000", "TXscam1"),
        )
    ):
        n += 1
        body: dict[str, Any] = {"asset": "USDT", "amount": usd, "usd_value": f"{usd}.00"}
        if address is None:
            body.update(rail="bank", instrument_id="bank-scam-victim")
        else:
            body.update(rail="crypto", address=address)
        yield _event(kind, n, "hand-victim", start + DAY * min(i, 2) + 600 * i, **body)
    transfer = {"asset": "USDT", "amount": "1500", "usd_value": "1500.00"}
    n += 1  # PT-002: received from one account, passed on to another the next day
    yield _event("transfer.internal", n, "hand-a", start, counterparty_id="hand-relay", **transfer)
    n += 1
    yield _event(
        "transfer.internal", n, "hand-relay", start + DAY, counterparty_id="hand-b", **transfer
    )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], ListStore]:
    out = tmp_path_factory.mktemp("pack-parity")
    rows = simulated_rows(out, accounts=1_500, days=30, seed=3)
    seq = max(r["seq"] for r in rows)
    first_ts = min(r["ts_us"] for r in rows) // 1_000_000
    for event in handmade(first_ts):
        seq += 1
        rows.extend(to_rows(event, seq))
    if AMLSIM.exists():
        for source_row, event in read_events(AMLSIM, "amlworld"):
            if source_row >= 40_000:
                break
            assert isinstance(event, Event)
            seq += 1
            rows.extend(to_rows(event, seq, source_row))
    with (out / "lists" / "sanctioned_addresses.txt").open("a") as feed:
        feed.write(f"\n{HAND_SANCTIONED}\n")
    lists = default_lists().merged(ListStore.from_dir(out / "lists"))
    return sort_rows(rows), lists


def test_every_default_rule_fires_on_the_corpus(corpus: tuple[list[dict], ListStore]) -> None:
    require_data(AMLSIM)
    rows, lists = corpus
    rules = load_default_pack()
    evaluator = StreamEvaluator(rules, lists, include_drafts=True)
    fired: set[str] = set()
    for row in rows:
        fired.update(h.rule_id for h in evaluator.process(row).hits)
    assert {r.id for r in rules} - fired == set()


def test_default_pack_parity_on_the_corpus(corpus: tuple[list[dict], ListStore]) -> None:
    rows, lists = corpus
    assert parity_check(load_default_pack(), lists, rows) == []
