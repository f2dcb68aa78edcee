"""When a list changes every subject is rescreened and only new hits alert: a "not a match"
stays quiet, an open hit is not raised twice, a changed KYC name is screened afresh."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from screening_store_fakes import (
    ANALYST,
    GLOBAL,
    NADIA,
    PETROV,
    T0,
    company,
    ftm_file,
    hits,
    kyc,
    load,
    log,
    person,
    sessions_of,
)
from sqlalchemy.engine import Engine

from riskops.events.schemas import BeneficialOwner, KybSubmitted
from riskops.kernel import outbox
from riskops.kernel.db import unit_of_work
from riskops.screening import service, tasks
from riskops.screening.models import HitStatus
from riskops.screening.schemas import HIT_RAISED


def taken(engine: Engine) -> list[dict]:
    """The HIT_RAISED messages waiting, taken (as cases would)."""
    with unit_of_work(sessions_of(engine)) as session:
        return outbox.take(session, HIT_RAISED, 1000)


def people(engine: Engine) -> None:
    log(
        engine,
        kyc("acc-1", "Viktor Petrov", dob=date(1960, 5, 1), nationality="RU"),
        kyc("acc-2", "Nadia Karimova", dob=date(1975, 2, 11), nationality="UZ"),
        kyc("acc-3", "Anna Schmidt", dob=date(1990, 1, 1), nationality="DE"),
    )


def test_not_a_match_is_remembered_and_a_list_change_alerts_only_new_hits(
    engine: Engine, tmp_path: Path
) -> None:
    cache = service.ScreenerCache()
    sessions = sessions_of(engine)
    load(engine, ftm_file(tmp_path / "v1.jsonl", [PETROV]))
    people(engine)
    tasks.follow(sessions, cache=cache)
    [first] = [m["account_id"] for m in taken(engine)]
    assert first == "acc-1"
    [hit] = hits(engine)
    with unit_of_work(sessions) as session:
        service.review(session, ANALYST, hit.id, "not_a_match", "born elsewhere, other passport")

    # v2 adds Nadia and keeps Petrov: every subject is rescreened, only Nadia alerts.
    load(engine, ftm_file(tmp_path / "v2.jsonl", [PETROV, NADIA]))
    with sessions() as session:
        assert service.stale_count(session, cache=cache) == 3
    progress = tasks.rescreen(sessions, cache=cache, limit=2)  # two transactions
    assert (progress.screened, progress.hits) == (3, 1)
    assert [(m["account_id"], m["entry_id"]) for m in taken(engine)] == [("acc-2", "p-2")]
    with sessions() as session:
        assert service.stale_count(session, cache=cache) == 0
    assert tasks.rescreen(sessions, cache=cache).screened == 0

    # v3 renames nothing that matters: Petrov's entry, with a new alias, and Nadia again.
    petrov_v3 = person(
        "p-1",
        "Viktor Ivanovich Petrov",
        birth="1960-05-01",
        country="ru",
        aliases=["Viktor Petroff"],
    )
    load(engine, ftm_file(tmp_path / "v3.jsonl", [petrov_v3, NADIA, GLOBAL]))
    assert tasks.rescreen(sessions, cache=cache).hits == 0
    assert taken(engine) == []
    by_account = {h.account_id: h.status for h in hits(engine)}
    assert by_account == {"acc-1": HitStatus.NOT_A_MATCH, "acc-2": HitStatus.OPEN}


def test_an_open_hit_is_not_raised_again_by_a_new_version(engine: Engine, tmp_path: Path) -> None:
    cache = service.ScreenerCache()
    sessions = sessions_of(engine)
    load(engine, ftm_file(tmp_path / "v1.jsonl", [PETROV]))
    people(engine)
    tasks.follow(sessions, cache=cache)
    assert len(taken(engine)) == 1
    load(engine, ftm_file(tmp_path / "v2.jsonl", [PETROV, GLOBAL]))
    assert tasks.rescreen(sessions, cache=cache).screened == 3
    assert taken(engine) == [] and len(hits(engine)) == 1


def test_subjects_stored_before_any_list_are_screened_when_one_is_loaded(
    engine: Engine, tmp_path: Path
) -> None:
    cache = service.ScreenerCache()
    sessions = sessions_of(engine)
    people(engine)
    assert tasks.follow(sessions, cache=cache).hits == 0
    load(engine, ftm_file(tmp_path / "v1.jsonl", [PETROV, NADIA]))
    progress = tasks.run_pass(sessions, cache=cache)  # what the worker runs
    assert (progress.screened, progress.hits) == (3, 2)
    assert sorted(m["account_id"] for m in taken(engine)) == ["acc-1", "acc-2"]


def test_a_changed_kyc_name_is_screened_afresh(engine: Engine, tmp_path: Path) -> None:
    cache = service.ScreenerCache()
    sessions = sessions_of(engine)
    load(engine, ftm_file(tmp_path / "v1.jsonl", [PETROV]))
    log(engine, kyc("acc-1", "Viktor Petrov", dob=date(1960, 5, 1)))
    tasks.follow(sessions, cache=cache)
    [hit] = hits(engine)
    with unit_of_work(sessions) as session:
        service.review(session, ANALYST, hit.id, "not_a_match", "other person")
    taken(engine)
    log(engine, kyc("acc-1", "Viktor I. Petrov", dob=date(1960, 5, 1)))  # a new KYC name
    progress = tasks.follow(sessions, cache=cache)
    assert (progress.screened, progress.hits) == (1, 1)
    assert [m["subject_name"] for m in taken(engine)] == ["Viktor I. Petrov"]
    assert [h.status for h in hits(engine)] == [HitStatus.NOT_A_MATCH, HitStatus.OPEN]


def test_kyb_legal_name_and_owners_are_subjects(engine: Engine, tmp_path: Path) -> None:
    cache = service.ScreenerCache()
    load(engine, ftm_file(tmp_path / "v1.jsonl", [PETROV, company("c-9", "Petrov Trading Ltd")]))
    owner = BeneficialOwner(
        full_name="Viktor Petrov", ownership_pct=60.0, date_of_birth=date(1960, 5, 1)
    )
    kyb = KybSubmitted(
        event_id="kyb-1",
        account_id="corp-1",
        occurred_at=T0,
        legal_name="Petrov Trading Limited",
        registration_number="R1",
        country="CY",
        beneficial_owners=[owner],
    )
    log(engine, kyb)
    progress = tasks.follow(sessions_of(engine), cache=cache)
    assert progress.screened == 2
    assert sorted((m["subject_role"], m["entry_id"]) for m in taken(engine)) == [
        ("kyb", "c-9"),
        ("owner", "p-1"),
    ]


def test_a_batch_of_thousands_of_subjects_and_hits_is_stored(
    engine: Engine, tmp_path: Path
) -> None:
    """More rows than one statement may carry parameters for: 4,000 hits of 17 columns are
    68,000, over PostgreSQL's 65,535 (this machine's SQLite takes 250,000)."""
    from screening_store_fakes import p2p

    cache = service.ScreenerCache()
    load(engine, ftm_file(tmp_path / "v1.jsonl", [PETROV]))
    n = 4_000
    log(engine, *(p2p("acc-big", f"cp-{i}", "Viktor Petrov") for i in range(n)))
    progress = tasks.follow(sessions_of(engine), cache=cache, limit=5_000)
    assert (progress.events, progress.screened, progress.hits) == (n, n, n)
    assert len(taken_all(engine)) == n


def taken_all(engine: Engine) -> list[dict]:
    with unit_of_work(sessions_of(engine)) as session:
        return outbox.take(session, HIT_RAISED, 10_000)
