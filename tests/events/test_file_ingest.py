"""File ingestion: NDJSON, CSV, Parquet, AMLworld; source rows; re-runs are no-ops."""

from __future__ import annotations

import contextlib
import csv
import gzip
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pyarrow.parquet as pq
import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from riskops.events import adapters, repository
from riskops.events.amlworld import HEADER, read_amlworld, read_amlworld_labels
from riskops.events.schemas import TransferInternal
from riskops.events.tabular import wire_dicts_to_table
from riskops.events.tasks import ingest_file
from riskops.events.validation import Rejection
from riskops.kernel.db import make_engine, migrate, session_factory, unit_of_work
from support import AMLSIM_TRANS as AMLSIM
from support import require_data

Wire = Callable[..., dict[str, Any]]


def _write_ndjson(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def _dead(sessions: sessionmaker[Session]) -> list[tuple[int | None, str]]:
    with unit_of_work(sessions) as session:
        letters, _ = repository.list_dead_letters(session, limit=100)
        return sorted((d.source_row, d.reason) for d in letters)


def _count(sessions: sessionmaker[Session]) -> int:
    with unit_of_work(sessions) as session:
        return repository.count_events(session)


def test_detect_format(tmp_path: Path) -> None:
    aml = tmp_path / "HI-Small_Trans.csv"
    aml.write_text(HEADER + "\n")
    plain = tmp_path / "events.csv.gz"
    with gzip.open(plain, "wt") as handle:
        handle.write("type,event_id\n")
    assert adapters.detect_format(aml) == "amlworld"
    assert adapters.detect_format(plain) == "csv"
    require_data(AMLSIM)
    assert adapters.detect_format(AMLSIM) == "amlworld"
    assert adapters.detect_format("x.jsonl.gz") == "ndjson"
    assert adapters.detect_format("x.parquet") == "parquet"
    with pytest.raises(adapters.UnknownFormat):
        adapters.detect_format("x.xlsx")


def test_ndjson_rows_rejections_and_rerun(
    tmp_path: Path, sessions: sessionmaker[Session], wire: Wire
) -> None:
    lines = [msgspec.json.encode(wire(i)) for i in range(5)]
    lines.insert(2, b"")  # blank: skipped, not a row
    lines.append(b'{"type": "deposit", "event_id": "t"')  # row 5: truncated
    lines.append(msgspec.json.encode(wire(6, asset="btc")))  # row 6: bad asset
    path = _write_ndjson(tmp_path / "events.ndjson", lines)
    rows = list(adapters.read_events(path))
    assert [r for r, _ in rows] == list(range(7))
    assert [type(e).__name__ for _, e in rows][4:] == ["Deposit", "Rejection", "Rejection"]
    report = ingest_file(path, None, None, sessions, chunk_size=3)
    assert (report.accepted, report.duplicates, report.rejected_count) == (5, 0, 2)
    again = ingest_file(path, None, None, sessions)
    assert (again.accepted, again.duplicates, again.rejected_count) == (0, 5, 2)
    assert _count(sessions) == 5
    with unit_of_work(sessions) as session:
        stored = repository.read_after(session, 0)
        assert [(r.source, r.source_name, r.source_row) for r in stored][-1] == (
            "file",
            "events.ndjson",
            4,
        )
    assert [row for row, _ in _dead(sessions)] == [5, 6]  # the re-run adds no dead letter


def test_csv_cells_convert_and_rows_count(
    tmp_path: Path, sessions: sessionmaker[Session], wire: Wire
) -> None:
    path = tmp_path / "events.csv"
    names = [
        "type",
        "event_id",
        "account_id",
        "occurred_at",
        "asset",
        "amount",
        "usd_value",
        "rail",
        "tx_hash",
        "success",
        "ip",
    ]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, names)
        writer.writeheader()
        writer.writerow({k: v for k, v in wire(0).items() if k in names})
        writer.writerow(
            {
                "type": "login",
                "event_id": "l-1",
                "account_id": "a",
                "occurred_at": "2025-03-01T00:00:00Z",
                "success": "false",
                "ip": "1.2.3.4",
            }
        )
        writer.writerow(
            {
                "type": "login",
                "event_id": "l-2",
                "account_id": "a",
                "occurred_at": "2025-03-01T00:00:00Z",
                "success": "maybe",
            }
        )
        writer.writerow({**{k: v for k, v in wire(3).items() if k in names}, "amount": "0"})
    results = [e for _, e in adapters.read_events(path)]
    assert results[1].success is False  # type: ignore[union-attr]
    assert isinstance(results[2], Rejection) and results[2].errors[0].field == "$.success"
    assert isinstance(results[3], Rejection) and results[3].errors[0].field == "$.amount"
    report = ingest_file(path, None, "upload-7", sessions)
    assert (report.accepted, report.rejected_count) == (2, 2)
    assert [row for row, _ in _dead(sessions)] == [2, 3]


def test_parquet_event_layout(tmp_path: Path, sessions: sessionmaker[Session], wire: Wire) -> None:
    events = [wire(i) for i in range(10)]
    events.append(
        {
            "type": "login",
            "event_id": "l-1",
            "account_id": "a",
            "success": True,
            "occurred_at": "2025-03-01T00:00:00+00:00",
            "ip_country": "FR",
        }
    )
    events.append(wire(11, amount="-3"))
    events.append(wire(12, occurred_at="2025-03-01T10:00:00.123456Z"))
    path = tmp_path / "events.parquet"
    pq.write_table(wire_dicts_to_table(events), path)
    results = list(adapters.read_events(path))
    assert [row for row, _ in results] == list(range(13))
    assert results[12][1].occurred_at.isoformat() == "2025-03-01T10:00:00.123456+00:00"  # type: ignore[union-attr]
    assert results[10][1].ip_country == "FR"  # type: ignore[union-attr]
    report = ingest_file(path, None, None, sessions)
    assert (report.accepted, report.rejected_count) == (12, 1)
    assert ingest_file(path, "parquet", None, sessions).duplicates == 12
    assert _dead(sessions)[0][0] == 11


def test_amlworld_rows_labels_and_errors(tmp_path: Path, sessions: sessionmaker[Session]) -> None:
    path = tmp_path / "Tiny_Trans.csv"
    path.write_text(
        "\n".join(
            [
                HEADER,
                "2022/09/01 00:20,10,8000EBD30,10,8000EBD30,3697.34,US Dollar,3697.34,US Dollar,"
                "Reinvestment,0",
                "2022/09/01 00:20,3208,8000F4580,1,8000F5340,0.01,Euro,0.01,Euro,Cheque,1",
                "2022/09/01 00:20,3209,8000F4670,3209,8000F4670,14675.57,Bitcoin,1.2345678,Bitcoin,"
                "Bitcoin,0",
                "2022/13/01 00:20,1,A,1,B,1,Yen,1,Dinar,Cash,0",
                "2022/09/01 00:21,1,A,1,B,0,Yen,0,Yen,Cash,0",
                "2022/09/01 00:22,1,A,1",
                "2022/09/01 00:23,1,A,1,B,1,Yen,Infinity,Yen,Cash,0",
                "2022/09/01 00:23,1,A,1,B,1,Yen,1e40,Bitcoin,Cash,0",
            ]
        )
        + "\n"
    )
    results = list(read_amlworld(path))
    first = results[0][1]
    assert isinstance(first, TransferInternal)
    assert (first.account_id, first.counterparty_id, first.asset) == ("10-8000EBD30",) * 2 + (
        "USD",
    )
    assert first.occurred_at.isoformat() == "2022-09-01T00:20:00+00:00"
    assert str(first.amount) == "3697.34" and first.method == "Reinvestment"
    assert first.event_id.startswith("aml-") and len(first.event_id) == 24
    btc = results[2][1]
    assert isinstance(btc, TransferInternal) and str(btc.usd_value) == "24691.36"
    bad_time = results[3][1]
    assert isinstance(bad_time, Rejection)
    assert {e.field for e in bad_time.errors} == {"$.Timestamp", "$.Payment Currency"}
    assert isinstance(results[4][1], Rejection) and results[4][1].errors[0].field == "$.Amount Paid"
    assert isinstance(results[5][1], Rejection) and "11 columns" in results[5][1].reason
    assert [r[1].errors[0].field for r in results[6:]] == ["$.Amount Paid"] * 2  # type: ignore[union-attr]
    assert read_amlworld_labels(path) == {
        0: False,
        1: True,
        2: False,
        3: False,
        4: False,
        6: False,
        7: False,
    }
    report = ingest_file(path, None, None, sessions)
    assert (report.accepted, report.rejected_count) == (3, 5)
    assert [row for row, _ in _dead(sessions)] == [3, 4, 5, 6, 7]
    assert [e.event_id for _, e in read_amlworld(path)] == [e.event_id for _, e in results]


def test_amlsim_file_is_fully_accepted(sessions: sessionmaker[Session]) -> None:
    require_data(AMLSIM)
    report = ingest_file(AMLSIM, None, None, sessions)
    assert (report.accepted, report.duplicates, report.rejected_count) == (197_905, 0, 0)
    assert _count(sessions) == 197_905
    labels = read_amlworld_labels(AMLSIM)
    assert len(labels) == 197_905 and sum(labels.values()) == 671


@pytest.mark.parametrize("fmt", ["ndjson", "parquet"])
def test_worker_processes_store_what_one_process_stores(
    tmp_path: Path, sessions: sessionmaker[Session], wire: Wire, fmt: str
) -> None:
    # Chunks prepared by worker processes are written in file order: the same log, the
    # same dead letters and the same counts as preparing everything here.
    events: list[dict[str, Any]] = [wire(i) for i in range(23)]
    events[4] = wire(4, amount="-1")  # refused
    events[9] = wire(2)  # a replay of row 2, in another chunk
    events[15] = wire(2, amount="9")  # row 2's id with other content: a conflict
    path = tmp_path / f"events.{fmt}"
    if fmt == "ndjson":
        _write_ndjson(path, [msgspec.json.encode(e) for e in events])
    else:
        pq.write_table(wire_dicts_to_table(events), path)
    one = make_engine(f"sqlite:///{tmp_path / 'one.db'}")
    migrate(one)
    alone = ingest_file(path, None, None, session_factory(one), chunk_size=4, workers=0)
    pooled = ingest_file(path, None, None, sessions, chunk_size=4, workers=2)
    counts = (pooled.accepted, pooled.duplicates, pooled.rejected_count)
    assert counts == (alone.accepted, alone.duplicates, alone.rejected_count) == (20, 1, 2)

    def log(factory: sessionmaker[Session]) -> list[tuple[str, int | None]]:
        with unit_of_work(factory) as session:
            return [(r.event_id, r.source_row) for r in repository.read_after(session, 0, 100)]

    assert log(sessions) == log(session_factory(one))
    assert [row for _, row in log(sessions)] == [i for i in range(23) if i not in (4, 9, 15)]
    assert _dead(sessions) == _dead(session_factory(one))
    one.dispose()


def test_a_failing_worker_stops_the_file_and_keeps_what_was_committed(
    tmp_path: Path, sessions: sessionmaker[Session], wire: Wire, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write_ndjson(
        tmp_path / "events.ndjson", [msgspec.json.encode(wire(i)) for i in range(20)]
    )
    real = adapters.iter_batch_to_store

    def iter_batch_to_store(batch: adapters.Batch, **kw: Any) -> Any:
        if batch.first_row >= 12:  # the workers are forked: they run this patched function
            raise RuntimeError("disk read error")
        return real(batch, **kw)

    monkeypatch.setattr(adapters, "iter_batch_to_store", iter_batch_to_store)
    with pytest.raises(RuntimeError, match="disk read error"):
        ingest_file(path, None, None, sessions, chunk_size=4, workers=2)
    with unit_of_work(sessions) as session:
        stored = [r.source_row for r in repository.read_after(session, 0, 100)]
    assert stored == list(range(12))  # the chunks before the failure, in order, complete
    monkeypatch.setattr(adapters, "iter_batch_to_store", real)
    again = ingest_file(path, None, None, sessions, chunk_size=4, workers=2)
    assert (again.accepted, again.duplicates) == (8, 12)  # a re-run finishes the file


def test_a_file_cut_short_stops_with_the_rows_read_before_it(
    tmp_path: Path, sessions: sessionmaker[Session], wire: Wire
) -> None:
    lines = [msgspec.json.encode(wire(i)) for i in range(400)]
    whole = gzip.compress(b"\n".join(lines) + b"\n")
    cut = tmp_path / "events.ndjson.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(adapters.UnreadableFile, match="cannot read past data row"):
        list(adapters.read_events(cut))
    with pytest.raises(adapters.UnreadableFile) as failure:
        ingest_file(cut, None, None, sessions, chunk_size=8, workers=0)
    past = int(re.search(r"past data row (\d+)", str(failure.value)).group(1))  # type: ignore[union-attr]
    assert 0 < past < 400 and past % 8 == 0
    with unit_of_work(sessions) as session:  # the whole chunks before the break, in order
        stored = [r.source_row for r in repository.read_after(session, 0, 1000)]
    assert stored == list(range(past))

    latin = tmp_path / "events.csv"  # not UTF-8: the text cannot be read on
    latin.write_bytes(b"type,event_id,account_id\nlogin,e-1,a-1\nlogin,e-\xe9,a-1\n")
    with pytest.raises(adapters.UnreadableFile, match="cannot be read as text"):
        list(adapters.read_events(latin))
    with pytest.raises(adapters.UnreadableFile, match=r"events\.csv: cannot read past data row"):
        list(adapters.read_events(latin, "csv"))

    broken = tmp_path / "events.parquet"
    pq.write_table(wire_dicts_to_table([wire(i) for i in range(40)]), broken)
    broken.write_bytes(broken.read_bytes()[:-100])
    with pytest.raises(adapters.UnreadableFile, match="not a readable Parquet file"):
        ingest_file(broken, None, None, sessions)


def _children() -> set[int]:
    """The living processes whose parent is this one."""
    me, found = os.getpid(), set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                state, ppid = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:2]
            except OSError:
                continue
            if state != "Z" and int(ppid) == me:
                found.add(int(entry.name))
    return found


def _open_files(pid: int) -> set[str]:
    fds = Path(f"/proc/{pid}/fd")
    links = set()
    for fd in fds.iterdir():
        with contextlib.suppress(OSError):
            links.add(os.readlink(fd))
    return links


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_worker_processes_hold_no_connection_of_the_writer(
    tmp_path: Path, engine: Engine, wire: Wire
) -> None:
    """The writer's pooled connection is not inherited by its worker processes: killed,
    the writer takes its connection (and on PostgreSQL its transaction) with it."""
    with engine.connect() as conn:  # pooled when returned, as after `open_database`
        dbapi = conn.connection.dbapi_connection
        if engine.dialect.name == "sqlite":
            database = Path(str(engine.url.database)).resolve()
            theirs = {str(database), f"{database}-wal", f"{database}-shm"}
        else:
            theirs = {os.readlink(f"/proc/self/fd/{dbapi.fileno()}")}  # type: ignore[union-attr]
    assert theirs & _open_files(os.getpid())  # the pooled connection is open here
    path = _write_ndjson(tmp_path / "e.ndjson", [msgspec.json.encode(wire(i)) for i in range(60)])
    seen: list[set[str]] = []

    def look(_: int) -> None:  # called while the worker processes run
        seen.extend(_open_files(pid) for pid in _children())

    report = ingest_file(
        path, None, None, session_factory(engine), progress=look, chunk_size=10, workers=2
    )
    assert report.accepted == 60
    assert len(seen) >= 2, "the worker processes were not seen"
    assert all(not files & theirs for files in seen)


def test_a_file_name_that_is_not_utf8_is_stored_escaped(
    tmp_path: Path, sessions: sessionmaker[Session], wire: Wire
) -> None:
    name = os.fsdecode(b"events-\xff.ndjson")  # a lone surrogate in Python
    lines = [msgspec.json.encode(wire(0)), b'{"type": "nope"}']
    path = _write_ndjson(tmp_path / name, lines)
    report = ingest_file(path, None, None, sessions)
    assert (report.accepted, report.rejected_count) == (1, 1)
    with unit_of_work(sessions) as session:
        (event,) = repository.read_after(session, 0)
        (letter,), _ = repository.list_dead_letters(session)
    assert event.source_name == letter.source_name == "events-\\udcff.ndjson"
