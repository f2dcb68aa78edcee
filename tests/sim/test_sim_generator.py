from __future__ import annotations

from collections import Counter
from typing import Any

import orjson

from riskops.events.schemas import EVENT_TYPES
from riskops.events.validation import Rejection, decode
from riskops.sim.generator import SimConfig, generate
from riskops.sim.scenarios import RATES
from riskops.sim.writer import SimResult


def test_events_are_in_time_order_with_unique_ids(small_events: list[dict[str, Any]]) -> None:
    times = [e["occurred_at"] for e in small_events]
    assert times == sorted(times)
    assert len({e["event_id"] for e in small_events}) == len(small_events)


def test_every_event_validates_and_every_type_occurs(small_events: list[dict[str, Any]]) -> None:
    rejected = [
        r for r in (decode(orjson.dumps(e)) for e in small_events) if isinstance(r, Rejection)
    ]
    assert rejected == []
    assert set(Counter(e["type"] for e in small_events)) == set(EVENT_TYPES)


def test_money_fields_are_exact(small_events: list[dict[str, Any]]) -> None:
    for event in small_events:
        if "usd_value" in event:
            assert isinstance(event["amount"], str)
            assert len(event["usd_value"].split(".")[1]) == 2


def test_generate_is_deterministic_and_seed_dependent() -> None:
    def run(seed: int) -> list[bytes]:
        return [orjson.dumps(e) for e in generate(SimConfig(accounts=200, days=5, seed=seed))]

    first = run(5)
    assert first == run(5)
    assert first != run(6)


def test_scenarios_differ_between_seeds() -> None:
    from riskops.sim.generator import Simulation

    a = Simulation(SimConfig(accounts=2_000, days=30, seed=1))
    b = Simulation(SimConfig(accounts=2_000, days=30, seed=2))
    roles_a = {(acc.account_id, sc.typology) for sc in a.scenarios for acc, _ in sc.roles}
    roles_b = {(acc.account_id, sc.typology) for sc in b.scenarios for acc, _ in sc.roles}
    assert roles_a != roles_b
    assert [sc.day for sc in a.scenarios] != [sc.day for sc in b.scenarios]


def test_every_typology_is_planted_and_labelled(
    small_run: SimResult, small_events: list[dict[str, Any]]
) -> None:
    assert set(small_run.event_labels.values()) == set(RATES)
    assert set(small_run.account_labels.values()) == set(RATES)
    ids = {e["event_id"] for e in small_events}
    assert set(small_run.event_labels) <= ids


def test_scenario_shapes(small_run: SimResult, small_events: list[dict[str, Any]]) -> None:
    labels = small_run.event_labels
    by_typology: dict[str, list[dict[str, Any]]] = {}
    for e in small_events:
        if e["event_id"] in labels:
            by_typology.setdefault(labels[e["event_id"]], []).append(e)
    kinds = {t: {e["type"] for e in evs} for t, evs in by_typology.items()}
    assert {"login", "security.change", "withdrawal.requested"} <= kinds["account_takeover"]
    assert {"security.change", "withdrawal.requested"} <= kinds["sim_swap"]
    assert kinds["sim_swap"] & {"provider.signal"}
    assert {"deposit", "withdrawal.requested", "card.chargeback"} <= kinds["card_fraud"]
    assert kinds["credential_stuffing"] == {"login"}
    assert any(not e["success"] for e in by_typology["credential_stuffing"])
    for e in by_typology["structuring"]:
        assert 9_000 <= float(e["usd_value"]) < 10_000
    mule_in = [e for e in by_typology["mule"] if e["type"] == "transfer.internal"]
    assert len({e["account_id"] for e in mule_in}) >= 4
    assert len({e["counterparty_id"] for e in mule_in}) <= small_run.scenarios["mule"]
