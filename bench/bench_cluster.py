"""The monitor through NATS JetStream, partitioned (ADR 0041): events/s with 1 and 2
partition workers on the same path, the ratio, and the ceilings under them.

Simulated exchange traffic (``riskops.sim``) is published to a stream of this run; then N
real ``riskops worker --bus nats --partition I/N`` processes (full default pack, PostgreSQL,
batches of 2,000) work it from the start. The clock runs from the moment every partition's
lease is taken (the processes have started and loaded the rules) to the moment every
checkpoint covers the stream's last sequence: every worker reads the whole stream, decides
its accounts' rows and keeps the cross-key features of the others.

Ceilings, for the scaling model (docs/scaling.md): JetStream publish (async, acked, one
client), one reader draining the stream with no work (what each worker's read costs), and
PostgreSQL commits/s of the fenced checkpoint update alone (one connection).

    python -m bench.bench_cluster [N_EVENTS]
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from bench.common import POSTGRES_URL, Result, at_least, drop_schema, schema_engine

NAME = "cluster"
ROOT = Path(__file__).resolve().parent.parent
NATS_URL = os.environ.get("RISKOPS_BENCH_NATS_URL", "nats://127.0.0.1:4222")


def _events(n: int) -> list[Any]:
    from bench.bench_monitor import sim_events

    return sim_events(n)


async def _publish(stream: str, subject: str, events: list[Any]) -> float:
    """Publish ``events`` (acked, 2,000 in flight); returns events/s."""
    import msgspec
    import nats

    from riskops.events.nats import ensure_stream, partition_of

    encode = msgspec.json.Encoder().encode
    nc = await nats.connect(NATS_URL)
    try:
        js = nc.jetstream()
        await ensure_stream(js, stream, subject)
        started = time.perf_counter()
        pending = []
        for event in events:
            target = f"{subject}.{partition_of(event.account_id, 8)}"
            headers = {"Nats-Msg-Id": event.event_id}
            pending.append(await js.publish_async(target, encode(event), headers=headers))
            if len(pending) >= 2_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
        return len(events) / (time.perf_counter() - started)
    finally:
        await nc.close()


PER_MESSAGE = 50  # events a message on the packed stream (riskops publish --per-message)


async def _publish_packed(stream: str, subject: str, events: list[Any], per_message: int) -> int:
    """The events packed ``per_message`` a message (file order); returns the messages."""
    from riskops.cluster.publisher import publish_rows

    rows = list(enumerate(events))
    report = await publish_rows(
        NATS_URL, stream, subject, rows, partitions=8, per_message=per_message
    )
    assert report.published == len(events)
    return -(-len(events) // per_message)


async def _drain(stream: str, subject: str, n: int) -> float:
    """One reader of the whole stream doing nothing with it: messages/s."""
    import nats
    from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

    nc = await nats.connect(NATS_URL)
    try:
        js = nc.jetstream()
        config = ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL)
        sub = await js.pull_subscribe(f"{subject}.>", stream=stream, config=config)
        started, got = time.perf_counter(), 0
        while got < n:
            got += len(await sub.fetch(2_000, timeout=5))
        return got / (time.perf_counter() - started)
    finally:
        await nc.close()


async def _drop(stream: str) -> None:
    import nats

    nc = await nats.connect(NATS_URL)
    try:
        await nc.jetstream().delete_stream(stream)
    except Exception:
        pass
    finally:
        await nc.close()


def _commits(schema: str, seconds: float = 2.0) -> float:
    """Fenced checkpoint updates committed per second on one connection."""
    from datetime import timedelta

    from riskops.cluster import repository as repo
    from riskops.kernel.clock import utcnow
    from riskops.kernel.db import migrate, session_factory, unit_of_work

    engine = schema_engine(schema)
    try:
        migrate(engine)
        sessions = session_factory(engine)
        now = utcnow()
        with unit_of_work(sessions) as session:
            repo.ensure_partitions(session, "BENCH", 1, now)
            fence = repo.acquire(session, "BENCH", 0, "bench", now + timedelta(hours=1), now)
        assert fence is not None
        done, seq = 0, 0
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            seq += 1
            with unit_of_work(sessions) as session:
                later = utcnow()
                repo.fenced_advance(session, "BENCH", 0, fence, seq, later, later)
            done += 1
        return done / (time.perf_counter() - started)
    finally:
        engine.dispose()


def _partition_rows(conn: Any, stream: str) -> list[tuple[int, tuple[bool, int]]]:
    """Each partition's lease (alive?) and checkpoint, on the bench's one connection (a
    new connection a poll would cost PostgreSQL a backend start each time)."""
    from sqlalchemy import text

    query = "SELECT partition, lease_until > now(), checkpoint FROM cluster_partitions"
    try:
        rows = conn.execute(text(f"{query} WHERE stream = :s"), {"s": stream}).all()
    except Exception:
        conn.rollback()
        return []
    conn.rollback()  # end the snapshot: the next poll sees the workers' commits
    return [(int(p), (bool(alive), int(cp))) for p, alive, cp in rows]


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


_Snapshot = dict[int, tuple[str, float]]  # pid -> (what it is, CPU seconds so far)


def _processes() -> tuple[_Snapshot, float]:
    """Every process's CPU seconds so far (user + system), named by its command line, and
    all CPUs' busy seconds (``/proc/stat``)."""
    tick = os.sysconf("SC_CLK_TCK")
    seen: _Snapshot = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:  # gone meanwhile
            continue
        seen[int(entry.name)] = (cmdline, (int(fields[11]) + int(fields[12])) / tick)
    busy = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    user, nice, system, _, _, irq, softirq = busy
    return seen, (user + nice + system + irq + softirq) / tick


def _client_ports(pids: set[int]) -> set[int]:
    """The local TCP ports of the sockets ``pids`` hold (their PostgreSQL connections)."""
    inodes: set[str] = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(fd)
                    if target.startswith("socket:["):
                        inodes.add(target[8:-1])
    ports: set[int] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                cols = line.split()
                if cols[9] in inodes:
                    ports.add(int(cols[1].rsplit(":", 1)[1], 16))
    return ports


def _budget(
    before: tuple[_Snapshot, float], after: tuple[_Snapshot, float], workers: set[int]
) -> dict[str, float]:
    """The CPU seconds each part of the machine spent between two ``_processes``: the
    partition workers, the PostgreSQL backends serving them (found by their client port),
    PostgreSQL's own processes (WAL writer, checkpointer, ...), the NATS server, this bench
    (its polling), everything else (other users of the machine), and the machine's total."""
    ports = _client_ports(workers)
    out = dict.fromkeys(
        ("workers", "pg_backends", "pg_shared", "nats", "bench", "other", "machine"), 0.0
    )
    me = os.getpid()
    for pid, (cmdline, spent) in after[0].items():
        spent -= before[0].get(pid, (cmdline, 0.0))[1]
        if pid in workers:
            group = "workers"
        elif cmdline.startswith("postgres: ") or "bin/postgres " in cmdline:
            client = cmdline.rsplit("(", 1)[1].split(")", 1)[0] if "(" in cmdline else ""
            if not client:
                group = "pg_shared"
            elif client.isdigit() and int(client) in ports:
                group = "pg_backends"
            else:
                group = "other"
        elif "nats-server" in cmdline:
            group = "nats"
        elif pid == me:
            group = "bench"
        else:
            group = "other"
        out[group] += spent
    out["machine"] = after[1] - before[1]
    return out


def run_partitions(
    stream: str,
    subject: str,
    n: int,
    partitions: int,
    worker: list[str] | None = None,
    ends: dict[int, int] | None = None,
) -> dict[str, float]:
    """N worker processes over the published stream; events/s from all leases taken to
    all checkpoints at the end (the stream's last sequence, ``n``; or partition I's own
    end, ``ends[I]``). ``worker``: the command before ``--bus nats ...`` (``riskops.worker``
    by default)."""
    schema = f"bench_cluster_{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "RISKOPS_LOG_LEVEL": "WARNING",
        "RISKOPS_NATS_URL": NATS_URL,
        "RISKOPS_NATS_STREAM": stream,
        "RISKOPS_NATS_SUBJECT": subject,
        "RISKOPS_DATABASE_URL": f"{POSTGRES_URL}?options=-csearch_path%3D{schema}",
        "RISKOPS_SNAPSHOT_EVERY": str(10**9),
        "RISKOPS_DATA_DIR": f"/tmp/bench-cluster-{schema}",
        "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}",
    }
    procs: list[subprocess.Popen[bytes]] = []
    engine, conn = schema_engine(schema), None
    try:
        from riskops.kernel.db import migrate

        migrate(engine)  # before the workers, so none of them times a migration
        conn = engine.connect()
        for index in range(partitions):
            cmd = [*(worker or [sys.executable, "-m", "riskops.worker"]), "--bus", "nats"]
            cmd += ["--batch", "2000"]
            cmd += ["--partition", f"{index}/{partitions}"]
            procs.append(
                subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            )
        deadline = time.monotonic() + 120
        while True:
            rows = _partition_rows(conn, stream)
            if len(rows) == partitions and all(alive for _, (alive, _) in rows):
                break
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise RuntimeError("the workers did not start")
            time.sleep(0.01)
        cpu = [_cpu_seconds(p.pid) for p in procs]
        pids = {p.pid for p in procs}
        machine = _processes()
        started = time.perf_counter()
        warm: tuple[float, int] | None = None  # when every partition had committed a batch
        while True:
            rows = _partition_rows(conn, stream)
            if rows and all(cp >= (n if ends is None else ends[i]) for i, (_, cp) in rows):
                break
            if warm is None and rows and all(cp > 0 for _, (_, cp) in rows):
                warm = (time.perf_counter(), min(cp for _, (_, cp) in rows))
            if any(p.poll() is not None for p in procs):
                raise RuntimeError("a worker died")
            time.sleep(0.02)
        ended = time.perf_counter()
        seconds = ended - started
        spent = [_cpu_seconds(p.pid) - c for p, c in zip(procs, cpu, strict=True)]
        budget = {f"cpu.{k}": v for k, v in _budget(machine, _processes(), pids).items()}
        # The busiest worker's CPU seconds: what its partition costs, whatever else runs on
        # the machine (wall time on a shared machine is not the work's).
        # From every partition's first commit on: the rate without the start (connect,
        # recover, the first read), which weighs on a short run.
        steady = n / seconds if warm is None else (n - warm[1]) / max(ended - warm[0], 1e-9)
        until = 0.0 if warm is None else warm[0] - started
        return {
            "events/s": n / seconds,
            "steady": steady,
            "start": until,
            "seconds": seconds,
            "cpu": max(spent),
            **budget,
        }
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        if conn is not None:
            conn.close()
        engine.dispose()
        drop_schema(schema)


def _budget_row(name: str, run: dict[str, float], n: int, bench: str = NAME) -> Result:
    """CPU an event of each part of the machine in a run (``_budget``), as one row: the
    value is the whole machine's (the workers, their PostgreSQL backends, PostgreSQL's own
    processes, NATS and the bench); the parts are in the name."""
    parts = ("workers", "pg_backends", "pg_shared", "nats", "bench")
    us = {part: run[f"cpu.{part}"] * 1e6 / n for part in parts}
    shown = ", ".join(f"{part} {value:.1f}" for part, value in us.items())
    others = run["cpu.other"] / run["seconds"]
    return Result(bench, f"{name} ({shown}; others {others:.2f} cores)", sum(us.values()), "us")


def apply_only(partition: int, partitions: int, n: int) -> None:
    """``--apply I N n``: one partition's work on the events without NATS (messages built
    in memory, written to a PostgreSQL schema of its own); prints its seconds."""
    import msgspec

    from riskops.cluster.partition import PartitionSpec, PartitionWorker
    from riskops.cluster.reader import Message
    from riskops.kernel.db import migrate
    from riskops.kernel.logging import configure_logging
    from riskops.monitor.evaluators import RulesEvaluatorFactory

    configure_logging()  # as a worker does: its logs on stderr, stdout "ready" and the seconds
    messages = [Message(i + 1, msgspec.json.encode(e)) for i, e in enumerate(_events(n))]
    schema = f"bench_apply_{uuid.uuid4().hex[:8]}"
    engine = schema_engine(schema)
    try:
        migrate(engine)
        spec = PartitionSpec("BENCH", "bench", partition, partitions)
        worker = PartitionWorker(engine, RulesEvaluatorFactory.load(engine), spec, nats_url="")
        assert worker.try_acquire()
        worker.recover()
        print("ready", flush=True)
        sys.stdin.readline()  # every partition starts together
        started = time.perf_counter()
        for i in range(0, len(messages), 2_000):
            worker.apply(messages[i : i + 2_000])
        seconds = time.perf_counter() - started
    finally:
        engine.dispose()
        drop_schema(schema)
    print(f"{seconds:.3f}", flush=True)  # the last line


def run_apply_only(n: int, partitions: int, only: list[int] | None = None) -> float:
    """events/s of ``partitions`` processes doing the partitions' work side by side
    (everything but the NATS read): the part of the work that partitioning divides.
    ``only``: run just these partitions (one alone: its own time, without contention)."""
    env = {
        **os.environ,
        "RISKOPS_LOG_LEVEL": "WARNING",
        "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}",
    }
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.bench_cluster",
                "--apply",
                str(i),
                str(partitions),
                str(n),
            ],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for i in (only if only is not None else range(partitions))
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            while (line := proc.stdout.readline()) and line.strip() != "ready":
                pass
            assert line, "a partition process ended before it was ready"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        outputs = [proc.communicate(timeout=600)[0].strip().splitlines() for proc in procs]
        seconds = max(float(lines[-1]) for lines in outputs)
        return n / seconds
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()


def measure(quick: bool = False, n_events: int | None = None) -> list[Result]:
    n = n_events or (15_000 if quick else 60_000)
    events = _events(n)
    n = len(events)
    tag = uuid.uuid4().hex[:8]
    stream, subject = f"BENCH_CLUSTER_{tag}", f"bench.cluster.{tag}"
    packed, packed_subject = f"BENCH_PACKED_{tag}", f"bench.packed.{tag}"
    try:
        publish_rate = asyncio.run(_publish(stream, subject, events))
        drain_rate = asyncio.run(_drain(stream, subject, n))
        one = run_partitions(stream, subject, n, 1)
        two = run_partitions(stream, subject, n, 2)
        messages = asyncio.run(_publish_packed(packed, packed_subject, events, PER_MESSAGE))
        packed_one = run_partitions(packed, packed_subject, messages, 1)
        packed_two = run_partitions(packed, packed_subject, messages, 2)
    finally:
        asyncio.run(_drop(stream))
        asyncio.run(_drop(packed))
    packed_one["events/s"] *= n / messages  # run_partitions counted messages
    packed_two["events/s"] *= n / messages
    work_one = run_apply_only(n, 1)
    work_two = run_apply_only(n, 2)
    # Each partition of two alone, one after the other: the speed-up two free cores would
    # give (the machine these run on is often shared; this figure does not depend on it).
    alone = min(run_apply_only(n, 2, [0]), run_apply_only(n, 2, [1]))
    schema = f"bench_commits_{tag}"
    try:
        commits = _commits(schema)
    finally:
        drop_schema(schema)
    ratio = two["events/s"] / one["events/s"]
    budget = [
        _budget_row(f"machine budget, {label}", run, n)
        for label, run in (
            ("1 partition", one),
            ("2 partitions", two),
            (f"{PER_MESSAGE} a message, 1 partition", packed_one),
            (f"{PER_MESSAGE} a message, 2 partitions", packed_two),
        )
    ]
    return [
        *budget,
        Result(NAME, f"1 partition events/s ({n:,} events, full pack)", one["events/s"], "ev/s"),
        Result(NAME, "2 partitions events/s", two["events/s"], "ev/s"),
        at_least(NAME, "2 partitions / 1 partition", ratio, "x", 1.7),
        Result(NAME, "  busiest worker CPU an event, 1 partition", one["cpu"] * 1e6 / n, "us"),
        Result(NAME, "  busiest worker CPU an event, 2 partitions", two["cpu"] * 1e6 / n, "us"),
        Result(NAME, "  ratio of those (2 free cores)", one["cpu"] / two["cpu"], "x"),
        Result(
            NAME, f"packed {PER_MESSAGE} a message: 1 partition", packed_one["events/s"], "ev/s"
        ),
        Result(
            NAME, f"packed {PER_MESSAGE} a message: 2 partitions", packed_two["events/s"], "ev/s"
        ),
        Result(
            NAME,
            "  ratio of busiest worker CPU, packed",
            packed_one["cpu"] / packed_two["cpu"],
            "x",
        ),
        at_least(
            NAME,
            "  ratio, packed",
            packed_two["events/s"] / packed_one["events/s"],
            "x",
            1.7,
        ),
        Result(NAME, "work without the NATS read, 1 partition", work_one, "ev/s"),
        Result(NAME, "work without the NATS read, 2 partitions", work_two, "ev/s"),
        Result(NAME, "  ratio, work without the read", work_two / work_one, "x"),
        Result(NAME, "  ratio, each of 2 partitions alone (2 free cores)", alone / work_one, "x"),
        Result(NAME, "NATS publish ceiling (one client, acked)", publish_rate, "msg/s"),
        Result(NAME, "NATS read ceiling (one reader, whole stream)", drain_rate, "msg/s"),
        Result(NAME, "PostgreSQL fenced commits/s (one connection)", commits, "commit/s"),
    ]


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--apply":
        apply_only(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
        sys.exit(0)
    size = int(sys.argv[1]) if len(sys.argv) > 1 else None
    for result in measure(n_events=size):
        print(f"{result.name:55} {result.shown:>16} {result.target}")
