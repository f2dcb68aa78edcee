"""A list change rescreens every subject against that list's new version only, and alerts
only new hits; a new or renamed subject is screened against every list."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

from screening_store_fakes import NADIA, PETROV, ftm_file, hits, kyc, load, log, sessions_of
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from riskops.kernel import outbox
from riskops.kernel.db import unit_of_work
from riskops.screening import service, tasks
from riskops.screening.lists import Match, Query
from riskops.screening.matcher import Screener
from riskops.screening.schemas import HIT_RAISED


class Counted:
    """A Screener that counts the names it screens, by list."""

    def __init__(self, screener: Screener, name: str, counts: Counter[str]) -> None:
        self.screener, self.name, self.counts = screener, name, counts

    def screen(self, query: Query) -> list[Match]:
        self.counts[self.name] += 1
        return self.screener.screen(query)


class CountingCache(service.ScreenerCache):
    def __init__(self) -> None:
        super().__init__()
        self.counts: Counter[str] = Counter()

    def get(self, session: Session) -> service.Screeners:
        real = super().get(session)
        wrapped = tuple(
            Counted(screener, name, self.counts)
            for (name, _), screener in zip(real.versions, real.screeners, strict=True)
        )
        return service.Screeners(real.versions, wrapped)  # type: ignore[arg-type]


def taken(engine: Engine) -> list[dict]:
    with unit_of_work(sessions_of(engine)) as session:
        return outbox.take(session, HIT_RAISED, 1000)


def test_one_list_changed_rescreens_against_it_only(engine: Engine, tmp_path: Path) -> None:
    cache = CountingCache()
    sessions = sessions_of(engine)
    load(engine, ftm_file(tmp_path / "a1.jsonl", [PETROV]), name="alpha")
    load(engine, ftm_file(tmp_path / "b1.jsonl", [PETROV]), name="beta")
    log(
        engine,
        kyc("acc-1", "Viktor Petrov", dob=date(1960, 5, 1), nationality="RU"),
        kyc("acc-2", "Nadia Karimova", dob=date(1975, 2, 11), nationality="UZ"),
    )
    tasks.follow(sessions, cache=cache)
    assert cache.counts == {"alpha": 2, "beta": 2}
    assert sorted((m["account_id"], m["list_name"]) for m in taken(engine)) == [
        ("acc-1", "alpha"),
        ("acc-1", "beta"),
    ]

    # beta adds Nadia: both subjects are screened again, against beta only; Nadia alerts
    cache.counts.clear()
    load(engine, ftm_file(tmp_path / "b2.jsonl", [PETROV, NADIA]), name="beta")
    progress = tasks.rescreen(sessions, cache=cache)
    assert (progress.screened, progress.hits) == (2, 1)
    assert cache.counts == {"beta": 2}
    assert [(m["account_id"], m["list_name"]) for m in taken(engine)] == [("acc-2", "beta")]
    assert tasks.rescreen(sessions, cache=cache).screened == 0

    # a renamed subject is screened against every list
    cache.counts.clear()
    log(engine, kyc("acc-2", "Nadia K. Karimova", dob=date(1975, 2, 11), nationality="UZ"))
    tasks.follow(sessions, cache=cache)
    assert cache.counts == {"alpha": 1, "beta": 1}
    assert {h.list_name for h in hits(engine, "acc-2")} == {"beta"}
