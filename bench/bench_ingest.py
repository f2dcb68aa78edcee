"""End-to-end file ingestion into the SQLite event log, in events per second, per format.

    .venv/bin/python bench/bench_ingest.py [N_EVENTS]

Generates N synthetic valid events (a mix of logins, deposits, withdrawals, trades and
internal transfers), writes them as NDJSON and Parquet to a temporary directory, then for
each format times: reading + validation alone, and ``riskops ingest`` (read, validate,
encode, insert with one commit per chunk) into a fresh SQLite database. A second run of
the same file (all duplicates) is timed too. Target: 200,000 events/s, on a file of 1M
events (the monitor benchmark's size); a file of 200k, where starting the worker processes
and filling the pipeline weigh more, is measured beside it for the record.
"""

from __future__ import annotations

import gc
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec
import pyarrow.parquet as pq
from sqlalchemy.engine import Engine

from riskops.events.adapters import read_events
from riskops.events.tabular import wire_dicts_to_table
from riskops.events.tasks import ingest_file
from riskops.kernel.db import make_engine, migrate, session_factory

NAME = "ingest"
TARGET = 200_000  # events/s, end-to-end file ingestion into SQLite


def synthetic_events(n: int, seed: int = 7) -> list[dict[str, Any]]:
    """``n`` valid wire events over 10,000 accounts, in time order."""
    rng = random.Random(seed)
    base = 1_740_000_000
    events: list[dict[str, Any]] = []
    for i in range(n):
        account = f"acct-{rng.randrange(10_000):05d}"
        ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(base + i // 10))
        event: dict[str, Any] = {
            "event_id": f"ev-{seed}-{i:09d}-{rng.getrandbits(32):08x}",
            "account_id": account,
            "occurred_at": ts,
        }
        kind = i % 5
        if kind == 0:
            event.update(
                type="login",
                success=rng.random() > 0.1,
                ip=f"10.0.{i % 256}.{i % 199}",
                ip_country="FR",
                device_id=f"dev-{rng.randrange(50_000)}",
            )
        else:
            usd = rng.randrange(100, 5_000_000)
            event.update(asset="USDT", amount=f"{usd / 100:.2f}", usd_value=f"{usd / 100:.2f}")
            if kind == 1:
                event.update(type="deposit", rail="crypto", chain="TRON", tx_hash=f"0x{i:064x}")
            elif kind == 2:
                event.update(type="withdrawal.requested", chain="TRON", address=f"T{i:033d}")
            elif kind == 3:
                event.update(type="trade", side="buy", quote_asset="USD")
            else:
                event.update(
                    type="transfer.internal", counterparty_id=f"acct-{rng.randrange(10_000):05d}"
                )
        events.append(event)
    return events


def _ingest(path: Path, engine: Engine) -> tuple[float, Any]:
    migrate(engine)
    started = time.perf_counter()
    report = ingest_file(path, None, None, session_factory(engine))
    seconds = time.perf_counter() - started
    engine.dispose()
    return seconds, report


_PG_SCHEMA = "bench_ingest"


def _into_postgres(path: Path, n_events: int) -> list[tuple[str, float]]:
    """The file into a fresh schema of the benchmark PostgreSQL, new then re-run; nothing
    (said on stderr) when that server is not there."""
    from sqlalchemy.exc import OperationalError

    from bench.common import drop_schema, schema_engine

    try:
        drop_schema(_PG_SCHEMA)
    except OperationalError as exc:
        print(f"ingest into PostgreSQL not measured: {exc.orig}", file=sys.stderr)
        return []
    try:
        first_s, first = _ingest(path, schema_engine(_PG_SCHEMA))
        again_s, again = _ingest(path, schema_engine(_PG_SCHEMA))
    finally:
        drop_schema(_PG_SCHEMA)
    assert first.accepted == n_events and again.duplicates == n_events
    return [
        ("into PostgreSQL (new)", first_s),
        ("into PostgreSQL (re-run, duplicates)", again_s),
    ]


def _write_files(events: list[dict[str, Any]], ndjson: Path, parquet: Path) -> None:
    ndjson.write_bytes(b"\n".join(msgspec.json.encode(e) for e in events) + b"\n")
    pq.write_table(wire_dicts_to_table(events), parquet)


def run(n_events: int, *, postgres: bool = False) -> list[dict[str, Any]]:
    """Measure each format; one result dict per (format, stage). ``postgres``: also into
    PostgreSQL (for the record: the target is the embedded default, SQLite)."""
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ndjson = folder / "events.ndjson"
        parquet = folder / "events.parquet"
        _write_files(synthetic_events(n_events), ndjson, parquet)
        gc.collect()  # the events are gone, as in `riskops ingest`: its heap holds no file
        for fmt, path in (("ndjson", ndjson), ("parquet", parquet)):
            started = time.perf_counter()
            valid = sum(1 for _, e in read_events(path) if not hasattr(e, "errors"))
            read_s = time.perf_counter() - started
            assert valid == n_events, f"{fmt}: {n_events - valid} synthetic events refused"
            db = f"sqlite:///{folder / fmt}.db"
            first_s, first = _ingest(path, make_engine(db))
            again_s, again = _ingest(path, make_engine(db))
            assert first.accepted == n_events and again.duplicates == n_events
            stages = [
                ("read+validate", read_s),
                ("ingest (new)", first_s),
                ("ingest (re-run, duplicates)", again_s),
            ]
            if postgres:
                stages += _into_postgres(path, n_events)
            for stage, seconds in stages:
                results.append(
                    {
                        "format": fmt,
                        "stage": stage,
                        "events": n_events,
                        "seconds": round(seconds, 3),
                        "events_per_s": round(n_events / seconds),
                    }
                )
    return results


def measure(quick: bool = False) -> list[Any]:
    """The benchmark harness entry point (``python -m bench``)."""
    from bench.common import Result, at_least

    results: list[Any] = []
    sizes = (20_000,) if quick else (1_000_000, 200_000)
    for n_events in sizes:
        for row in run(n_events, postgres=n_events == sizes[0]):
            name = f"{row['format']} {row['stage']}, {n_events // 1000:,}k"
            if row["stage"] == "ingest (new)" and n_events == sizes[0]:
                results.append(at_least(NAME, name, row["events_per_s"], "events/s", TARGET))
            else:
                results.append(Result(NAME, name, row["events_per_s"], "events/s"))
    return results


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    for row in run(n):
        print(
            f"{row['format']:8} {row['stage']:28} {row['events']:>9,} events "
            f"{row['seconds']:7.2f} s {row['events_per_s']:>10,} events/s"
        )
