"""List versions: stored whole, made current atomically, loaded once, swapped by readers."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from screening_store_fakes import GLOBAL, LOADER, NADIA, PETROV, T0, ftm_file, load
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from riskops.audit.models import AuditEntry
from riskops.auth.permissions import Principal, Role
from riskops.kernel.db import session_factory, unit_of_work
from riskops.kernel.errors import Forbidden, ValidationFailed
from riskops.screening import repository as repo
from riskops.screening import service
from riskops.screening.lists import ListFormatError, Query
from riskops.screening.models import ListVersion


def versions(engine: Engine) -> list[tuple[str, int, int]]:
    with session_factory(engine)() as session:
        rows = session.execute(
            select(ListVersion.list_name, ListVersion.version, ListVersion.entry_count).order_by(
                ListVersion.id
            )
        )
        return [tuple(r) for r in rows]


def current(engine: Engine) -> list[tuple[str, int]]:
    with session_factory(engine)() as session:
        return repo.current_versions(session)


def test_a_load_stores_a_version_and_makes_it_current(engine: Engine, tmp_path: Path) -> None:
    path = ftm_file(tmp_path / "list.jsonl", [PETROV, GLOBAL])
    result = load(engine, path)
    assert (result.created, result.switched, result.version, result.entry_count) == (
        True,
        False,
        1,
        2,
    )
    assert current(engine) == [("test", result.version_id)]
    with session_factory(engine)() as session:
        [(version, is_current)] = service.list_versions(session, LOADER)
        assert is_current
        assert version.source == "ftm" and version.loaded_by == "mgr" and version.loaded_at == T0
        assert version.files[0]["name"] == "list.jsonl"
        assert len(version.files[0]["sha256"]) == 64
        assert version.files[0]["bytes"] == path.stat().st_size
        names = sorted(e.names[0] for e in service.decode_entries(version.entries))
        assert names == ["Global Trade Holdings LLC", "Viktor Ivanovich Petrov"]
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "screening.list_load")
        ).one()
        assert entry.actor == "mgr" and entry.detail["entries"] == 2


def test_the_same_files_again_store_nothing(engine: Engine, tmp_path: Path) -> None:
    path = ftm_file(tmp_path / "list.jsonl", [PETROV, GLOBAL])
    first = load(engine, path)
    again = load(engine, path)
    copy = tmp_path / "renamed.jsonl"
    shutil.copy(path, copy)
    renamed = load(engine, copy)  # the contents name a load, not the file's name
    assert not again.changed and not renamed.changed
    assert again.version_id == renamed.version_id == first.version_id
    assert versions(engine) == [("test", 1, 2)]


def test_a_new_release_is_a_new_version_and_an_old_one_switches_back(
    engine: Engine, tmp_path: Path
) -> None:
    v1 = load(engine, ftm_file(tmp_path / "v1.jsonl", [PETROV]))
    v2 = load(engine, ftm_file(tmp_path / "v2.jsonl", [PETROV, NADIA]))
    assert (v2.created, v2.version) == (True, 2)
    assert current(engine) == [("test", v2.version_id)]
    back = load(engine, tmp_path / "v1.jsonl")
    assert (back.created, back.switched, back.version_id) == (False, True, v1.version_id)
    assert current(engine) == [("test", v1.version_id)]
    assert versions(engine) == [("test", 1, 1), ("test", 2, 2)]
    other = load(engine, tmp_path / "v1.jsonl", name="other")  # another list is its own
    assert (other.created, other.version) == (True, 1)
    assert [name for name, _ in current(engine)] == ["other", "test"]


def test_a_reader_sees_the_old_version_until_the_load_commits(
    engine: Engine, tmp_path: Path
) -> None:
    v1 = load(engine, ftm_file(tmp_path / "v1.jsonl", [PETROV]))
    sessions = session_factory(engine)
    with unit_of_work(sessions) as writer:
        v2 = service.load_list(
            writer, LOADER, "ftm", [ftm_file(tmp_path / "v2.jsonl", [PETROV, NADIA])], name="test"
        )
        writer.flush()
        with sessions() as reader:  # another connection, mid-load
            assert repo.current_versions(reader) == [("test", v1.version_id)]
            count = reader.scalar(select(func.count()).select_from(ListVersion))
            assert count == 1
    assert current(engine) == [("test", v2.version_id)]


def test_a_malformed_file_stores_nothing(engine: Engine, tmp_path: Path) -> None:
    v1 = load(engine, ftm_file(tmp_path / "v1.jsonl", [PETROV]))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "schema": "Person", "properties": {"name": ["A B"]}}\n{oops\n')
    with pytest.raises(ListFormatError, match="line 2"):
        load(engine, bad)
    assert versions(engine) == [("test", 1, 1)]
    assert current(engine) == [("test", v1.version_id)]


def test_an_unknown_source_is_refused(engine: Engine, tmp_path: Path) -> None:
    path = ftm_file(tmp_path / "v1.jsonl", [PETROV])
    with pytest.raises(ValidationFailed), unit_of_work(session_factory(engine)) as s:
        service.load_list(s, LOADER, "csv", [path])
    assert versions(engine) == []


@pytest.mark.parametrize("role", [Role.ANALYST, Role.SENIOR_ANALYST, Role.RULE_AUTHOR])
def test_only_managers_and_admins_load_lists(engine: Engine, tmp_path: Path, role: Role) -> None:
    path = ftm_file(tmp_path / "v1.jsonl", [PETROV])
    with pytest.raises(Forbidden, match="screening:load"):
        load(engine, path, by=Principal.for_user(9, "someone", role))
    assert versions(engine) == []
    assert load(engine, path, by=Principal.for_user(8, "root", Role.ADMIN)).created


def test_the_cache_swaps_to_a_new_version_and_reuses_an_unchanged_one(
    engine: Engine, tmp_path: Path
) -> None:
    cache = service.ScreenerCache()
    sessions = session_factory(engine)
    with sessions() as session:
        empty = cache.get(session)
    assert empty.versions == () and empty.screeners == ()
    load(engine, ftm_file(tmp_path / "v1.jsonl", [PETROV]))
    load(engine, ftm_file(tmp_path / "o1.jsonl", [GLOBAL]), name="other")
    nadia = Query("Nadia Karimova", birth_date="1975-02-11")
    with sessions() as session:
        first = cache.get(session)
        assert cache.get(session) is first  # nothing changed: no rebuild, the same snapshot
    test_screener = first.screeners[[n for n, _ in first.versions].index("test")]
    assert test_screener.screen(nadia) == []
    load(engine, ftm_file(tmp_path / "v2.jsonl", [PETROV, NADIA]))
    with sessions() as session:
        second = cache.get(session)
    assert second.key != first.key
    by_name = dict(zip((n for n, _ in second.versions), second.screeners, strict=True))
    assert [m.entry.entry_id for m in by_name["test"].screen(nadia)] == ["p-2"]
    other_before = first.screeners[[n for n, _ in first.versions].index("other")]
    assert by_name["other"] is other_before  # the unchanged list kept its Screener
    assert test_screener.screen(nadia) == []  # a snapshot in use keeps its lists


@pytest.mark.postgres
def test_two_first_loads_of_one_list_at_once_one_is_refused(engine: Engine, tmp_path: Path) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("concurrent writers: PostgreSQL (SQLite serializes them on its write lock)")
    import threading

    from riskops.kernel.errors import Conflict

    sessions = session_factory(engine)
    v1 = ftm_file(tmp_path / "v1.jsonl", [PETROV])
    v2 = ftm_file(tmp_path / "v2.jsonl", [PETROV, NADIA])
    outcome: dict[str, object] = {}
    with unit_of_work(sessions) as first:
        service.load_list(first, LOADER, "ftm", [v1], name="test")

        def second() -> None:
            try:
                with unit_of_work(sessions) as session:
                    service.load_list(session, LOADER, "ftm", [v2], name="test")
                outcome["second"] = "loaded"
            except Conflict as exc:
                outcome["second"] = exc

        thread = threading.Thread(target=second)
        thread.start()
        thread.join(0.5)  # it waits on the first's unique keys
        assert thread.is_alive()
    thread.join(10)
    assert isinstance(outcome["second"], Conflict)
    assert versions(engine) == [("test", 1, 1)]
