"""The synchronous decision API over HTTP: requests/s and latency percentiles.

Starts the app (``riskops.web.app:create_app``, uvicorn factory mode, one process) on a
free loopback port with a fresh SQLite database, then a separate load-generating process
(keep-alive HTTP/1.1, bounded: N requests at concurrency C) posts
``withdrawal.requested`` events to ``/v1/decisions``, authenticated like an exchange's
service: a ``decision:request`` API token, created before the server starts.

The load generator is ``wrk`` (Debian package ``wrk``; ``bench_decisions.lua`` posts the
same bodies) when it is installed, else the Python asyncio client here
(``RISKOPS_BENCH_CLIENT=python`` forces it). The two cores are shared by the server and the
client: the Python client spends about as much CPU a request as the server, wrk a fraction,
so the two give different requests/s for the same server (the result says which ran,
``client``). The server's CPU per decision does not depend on the client.

Only 2xx answers count: requests/s is decisions per second and the latency percentiles are
those of decisions. Any other answer (a 4xx refusal, a 5xx) is reported by code with the
first bodies, and the run fails: a fast 422 is not a fast decision.

    python -m bench.bench_decisions [N] [CONCURRENCY] [--followers]
    python -m bench.bench_decisions [N] [CONCURRENCY] --routed [PARTITIONS] [--runtime-owner]

By default the API runs as deployed beside ``riskops worker`` (``RISKOPS_SERVE_FOLLOWERS=false``);
``--followers`` runs it as the embedded default, with the log followers and case passes in
the server's child process (ADR 0029). ``--routed`` runs ``riskops serve --bus nats``: each
decision goes over NATS to the partition worker owning the account (``riskops worker --bus
nats --partition I/N``, on PostgreSQL), which decides it with the full default pack (ADR 0042);
an answer of the routing's fail-safe is not a decision and fails the run. ``--runtime-owner``
puts the single-process monitor behind the routing instead of the workers (the routing's
own cost).
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import Result, at_least, at_most, percentile

NAME = "decisions"
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def body(i: int) -> bytes:
    """A withdrawal; one in 20 is large (the default pack may hold it)."""
    usd = 25_000 + i % 7 if i % 20 == 0 else 50 + i % 900
    return json.dumps(
        {
            "type": "withdrawal.requested",
            "event_id": f"bench-{i}",
            "account_id": f"acc-{i % 5000}",
            "occurred_at": f"2026-01-01T{(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:{i % 60:02d}Z",
            "asset": "USDT",
            "amount": str(usd),
            "usd_value": f"{usd}.00",
            "address": f"T{i % 3000:033d}",
            "chain": "tron",
            "ip": f"10.0.{i % 250}.{i % 200}",
        }
    ).encode()


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a running process (Linux ``/proc``), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_busy() -> float:
    """CPU seconds all cores spent busy since boot (``/proc/stat``), whoever spent them."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _service_cpu() -> dict[str, float]:
    """CPU seconds of the shared services so far: every PostgreSQL process (its backends
    included) and the NATS server, read from ``/proc`` (a backend that exits between two
    reads takes its time with it: the figure is a floor)."""
    spent = {"postgres": 0.0, "nats": 0.0}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            comm = (entry / "comm").read_text().strip()
            if comm == "postgres" or comm == "nats-server":
                seconds = cpu_seconds(int(entry.name))
            else:
                continue
        except (OSError, ValueError, IndexError):
            continue
        spent["postgres" if comm == "postgres" else "nats"] += seconds
    return spent


def _commits() -> int:
    """Transactions committed in the benchmark database so far (``pg_stat_database``)."""
    import psycopg

    from bench.common import POSTGRES_URL

    url = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    return int(row[0]) if row else 0


def _wait_quiet(pid: int, *, busy: float = 0.05, timeout: float = 60.0) -> None:
    """Until the process uses less than ``busy`` of a core over half a second."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        time.sleep(0.5)
        if cpu_seconds(pid) - before < busy * 0.5:
            return


TOKEN_ENV = "RISKOPS_BENCH_TOKEN"  # the bearer token, passed to the load generator


def create_token(data_dir: str) -> str:
    """A ``decision:request`` API token in the database the server will open."""
    from riskops.auth import service
    from riskops.auth.permissions import Principal
    from riskops.kernel.config import Settings
    from riskops.kernel.db import open_database, session_factory, unit_of_work

    engine = open_database(Settings(data_dir=Path(data_dir)).sqlalchemy_url)
    try:
        with unit_of_work(session_factory(engine)) as session:
            token, _ = service.create_api_token(
                session, Principal.system("bench"), name="bench", scopes=["decision:request"]
            )
    finally:
        engine.dispose()
    return token


async def _load(url: str, n: int, concurrency: int, offset: int = 0) -> dict[str, Any]:
    """``concurrency`` keep-alive connections, each posting until ``n`` requests are sent.

    A minimal HTTP/1.1 client on asyncio streams: httpx's pool costs more CPU per request
    than the server under test does (measured: about 230 req/s for ``/healthz`` at 32
    connections on this box), so it would measure the client, not the server.
    """
    host, port = url.removeprefix("http://").split(":")
    latencies: list[float] = []  # of 2xx answers only: a fast refusal is not a decision
    codes: dict[int, int] = {}
    refused: list[str] = []  # the first few non-2xx bodies, to say why
    decisions: dict[str, int] = {}
    failsafe = 0  # 2xx answers of the routing's fail-safe: not the owner's decision
    counter = iter(range(offset, offset + n))
    auth = f"Authorization: Bearer {os.environ[TOKEN_ENV]}\r\n".encode()

    async def one_connection() -> None:
        nonlocal failsafe
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            for i in counter:
                payload = body(i)
                started = time.perf_counter()
                writer.write(
                    b"POST /v1/decisions HTTP/1.1\r\nHost: bench\r\n"
                    b"Content-Type: application/json\r\n"
                    + auth
                    + f"Content-Length: {len(payload)}\r\n\r\n".encode()
                    + payload
                )
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                data = await reader.readexactly(length)
                elapsed = time.perf_counter() - started
                code = int(head[9:12])
                codes[code] = codes.get(code, 0) + 1
                if 200 <= code < 300:
                    latencies.append(elapsed)
                    answer = json.loads(data)
                    decision = answer["decision"]
                    decisions[decision] = decisions.get(decision, 0) + 1
                    if any(r["rule_id"] == "FAILSAFE" for r in answer["reasons"]):
                        failsafe += 1
                        if len(refused) < 3:
                            refused.append(f"fail-safe: {answer['reasons'][0]['reason']}")
                elif len(refused) < 3:
                    refused.append(f"{code}: {data[:300].decode(errors='replace')}")
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(one_connection() for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    latencies.sort()
    ok = sum(count for code, count in codes.items() if 200 <= code < 300)
    return {
        "requests": n,
        "concurrency": concurrency,
        "seconds": seconds,
        # Throughput counts decisions made (2xx), never refusals or errors.
        "requests/s": ok / seconds,
        "2xx": ok,
        "non-2xx": n - ok,
        "p50 ms": percentile(latencies, 50) * 1000 if latencies else float("nan"),
        "p99 ms": percentile(latencies, 99) * 1000 if latencies else float("nan"),
        "codes": codes,
        "refused": refused,
        "decisions": decisions,
        "failsafe": failsafe,
    }


class NotAllDecided(RuntimeError):
    """Some requests were not answered 2xx: the run measured something else than decisions."""


def check_all_decided(result: dict[str, Any]) -> dict[str, Any]:
    """``result`` if every request got a 2xx decision; else fail loudly with the codes and
    why. A fail-safe answer of routed decisions (the owner did not answer in time) is a 2xx
    but no decision: it fails the run too."""
    if result["non-2xx"] or result.get("failsafe"):
        raise NotAllDecided(
            f"{result['non-2xx']} of {result['requests']} requests were not answered 2xx "
            f"(codes {result['codes']}), {result.get('failsafe', 0)} by the fail-safe "
            f"({result['requests/s']:.0f} req/s, p50 {result['p50 ms']:.1f} ms, "
            f"p99 {result['p99 ms']:.1f} ms, owner CPU "
            f"{result.get('owner cpu ms/decision', float('nan')):.2f} ms a decision); "
            f"first refusals: {result['refused']}"
        )
    return result


def client_main(url: str, n: int, concurrency: int, offset: int = 0) -> None:
    """The load generator (its own process): prints one JSON line of results."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    print(json.dumps(asyncio.run(_load(url, n, concurrency, offset))))


def run(n: int = 20_000, concurrency: int = 16, *, followers: bool = False) -> dict[str, Any]:
    """Start the server, run the load generator against it, stop the server. ``followers``:
    the embedded default (the followers in the server's child) instead of the API alone."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "RISKOPS_DATA_DIR": tmp,
            "RISKOPS_LOG_LEVEL": "WARNING",
            # The API process as deployed beside `riskops worker`, which runs the log
            # followers (links, screening, accounts), or (``followers``) the embedded default,
            # where the server runs them in its child process (ADR 0029): they share no GIL
            # with the decision lane, only SQLite's write lock (docs/benchmarks.md).
            "RISKOPS_SERVE_FOLLOWERS": "true" if followers else "false",
            "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}",
        }
        env[TOKEN_ENV] = create_token(tmp)
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "riskops.web.app:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-access-log",
                "--log-level",
                "warning",
                "--loop",
                "uvloop",
                "--http",
                "httptools",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            _wait_ready(port, server)
            # the start's own work (intel's tables warmed in a thread, ADR 0031) is not the
            # decisions' cost: measured, it was a tenth of the server's CPU in a 20k run
            _wait_quiet(server.pid)
            url = f"http://127.0.0.1:{port}"
            # warm-up, other ids
            check_all_decided(_client(env, url, 500, concurrency, offset=10_000_000))
            cpu = cpu_seconds(server.pid)
            result = _client(env, url, n, concurrency)
            # The server's CPU time per decision: the figure a busy machine does not distort
            # (its wall-clock rate and tail do: the cores are shared).
            spent = cpu_seconds(server.pid) - cpu
            result["server cpu ms/req"] = spent * 1000 / max(1, result["requests"])
        finally:
            server.terminate()
            _, err = server.communicate(timeout=30)
        result["server_stderr_tail"] = err.decode()[-400:]
        return check_all_decided(result)


NATS_URL = os.environ.get("RISKOPS_BENCH_NATS_URL", "nats://127.0.0.1:4222")


def run_routed(
    n: int = 20_000, concurrency: int = 16, partitions: int = 1, *, owner: str = "worker"
) -> dict[str, Any]:
    """``riskops serve --bus nats`` (no monitor in the API process) and ``partitions``
    owners on a NATS stream of this run; the load generator posts to the API, which routes
    each decision to the owner of the account. ``owner``: ``worker``, the partition workers
    (``riskops worker --bus nats --partition I/N``) on a PostgreSQL schema of this run; or
    ``runtime``, the single-process monitor behind the routing (``owner_main``) on SQLite."""
    import uuid

    from bench.common import POSTGRES_URL, drop_schema, schema_engine

    tag = uuid.uuid4().hex[:8]
    stream, subject, schema = f"BENCH_{tag}", f"bench.{tag}.events", f"bench_routed_{tag}"
    from riskops.kernel.db import migrate

    engine = schema_engine(schema)
    migrate(engine)  # once, before the workers: two migrating one schema at once collide
    engine.dispose()
    port = free_port()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            base = {
                **os.environ,
                "RISKOPS_LOG_LEVEL": "WARNING",
                "RISKOPS_NATS_URL": NATS_URL,
                "RISKOPS_NATS_STREAM": stream,
                "RISKOPS_NATS_SUBJECT": subject,
                "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}",
            }
            workers_env = {
                **base,
                "RISKOPS_DATA_DIR": f"{tmp}/worker",
                "RISKOPS_DATABASE_URL": f"{POSTGRES_URL}?options=-csearch_path%3D{schema}",
            }
            # As deployed, the other API processes: the followers run in one of them only.
            api_env = {**base, "RISKOPS_DATA_DIR": f"{tmp}/api", "RISKOPS_SERVE_FOLLOWERS": "false"}
            api_env.pop("RISKOPS_DATABASE_URL", None)
            api_env[TOKEN_ENV] = create_token(f"{tmp}/api")
            for index in range(partitions):
                if owner == "worker":
                    cmd = [sys.executable, "-m", "riskops.worker", "--bus", "nats"]
                    cmd += ["--partition", f"{index}/{partitions}"]
                    processes.append(_start(cmd, workers_env))
                else:
                    cmd = [sys.executable, "-m", "bench.bench_decisions", "--owner", subject]
                    cmd += [str(index), str(partitions)]
                    owner_env = {**api_env, "RISKOPS_DATA_DIR": f"{tmp}/owner-{index}"}
                    processes.append(_start(cmd, owner_env))
            serve = [sys.executable, "-m", "riskops.cli", "serve", "--bus", "nats"]
            serve += ["--partitions", str(partitions), "--port", str(port)]
            processes.append(_start(serve, api_env))
            _wait_ready(port, processes[-1], path="/healthz")
            url = f"http://127.0.0.1:{port}"
            _wait_owned(api_env, url, partitions, processes)
            _client(api_env, url, 500, concurrency, offset=10_000_000)  # warm-up
            before = [cpu_seconds(p.pid) for p in processes]
            services, machine, commits = _service_cpu(), _machine_busy(), _commits()
            client = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk, once it is reaped
            load = os.getloadavg()[0]
            result = _client(api_env, url, n, concurrency)
            spent = [cpu_seconds(p.pid) - b for p, b in zip(processes, before, strict=True)]
            after = _service_cpu()
            machine = _machine_busy() - machine
            client_after = resource.getrusage(resource.RUSAGE_CHILDREN)
            per = 1000 / max(1, result["requests"])
            # CPU time per decision: the figure a busy machine does not distort
            result["owner cpu ms/decision"] = sum(spent[:-1]) * per
            result["api cpu ms/decision"] = spent[-1] * per
            # The whole path's CPU: the services the decisions use, the load generator, and
            # every busy core of the machine (which counts other sessions' work too).
            for name, seconds in after.items():
                result[f"{name} cpu ms/decision"] = (seconds - services[name]) * per
            result["client cpu ms/decision"] = (
                client_after.ru_utime + client_after.ru_stime - client.ru_utime - client.ru_stime
            ) * per
            result["path cpu ms/decision"] = sum(
                result[f"{name} cpu ms/decision"]
                for name in ("owner", "api", "postgres", "nats", "client")
            )
            result["machine busy ms/decision"] = machine * per
            result["commits/decision"] = (_commits() - commits) / max(1, result["requests"])
            result["load average"] = [round(load, 2), round(os.getloadavg()[0], 2)]
    finally:
        tails = [_stop(p) for p in processes]
        _drop_stream(stream)
        drop_schema(schema)
    result["stderr_tails"] = tails
    result["partitions"] = partitions
    result["owner"] = owner
    return check_all_decided(result)


def owner_main(subject: str, partition: int, partitions: int) -> None:
    """``--owner``: a partition owner that is the single-process monitor (a
    ``MonitorRuntime`` with the default pack on the settings' database, deciding each group
    of requests in one transaction) behind ``serve_decisions``: the routing's own cost,
    without the partition worker's stream round trip."""
    import signal

    from riskops.cluster.routing import serve_decisions
    from riskops.kernel.config import get_settings
    from riskops.kernel.db import open_database
    from riskops.monitor.runtime import MonitorRuntime, tune_gc

    settings = get_settings()
    runtime = MonitorRuntime.create(settings, open_database(settings.sqlalchemy_url))
    tune_gc()

    async def main() -> None:
        import nats

        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        nc = await nats.connect(settings.nats_url)

        async def decide(events: list[Any]) -> list[Any]:
            return await asyncio.to_thread(runtime.decide_events, events)

        await serve_decisions(nc, subject, partition, decide, partitions=partitions)
        await stop.wait()
        await nc.drain()

    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    asyncio.run(main())


def _start(cmd: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _stop(process: subprocess.Popen[bytes]) -> str:
    process.terminate()
    try:
        _, err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
    return err.decode(errors="replace")[-400:]


def _wait_owned(
    env: dict[str, str], url: str, partitions: int, processes: list[subprocess.Popen[bytes]]
) -> None:
    """Until every partition's worker answers (a decision, not the fail-safe): one
    account of each partition asked, with ids no run uses."""
    from riskops.events.nats import partition_of

    wanted = set(range(partitions))
    accounts = {partition_of(f"acc-{i}", partitions): i for i in range(5_000)}
    deadline = time.monotonic() + 120
    attempt = 0
    while wanted and time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                raise RuntimeError(process.stderr.read().decode() if process.stderr else "died")
        for partition in sorted(wanted):
            attempt += 1
            offset = 20_000_000 + attempt * 5_000 + accounts[partition]
            probe = _client(env, url, 1, 1, offset=offset)
            if probe["2xx"] == 1 and not probe["failsafe"]:
                wanted.discard(partition)
        if wanted:
            time.sleep(0.5)
    if wanted:
        raise RuntimeError(f"partitions {sorted(wanted)} have no worker answering")


def _drop_stream(stream: str) -> None:
    async def drop() -> None:
        import nats
        from nats.js.errors import NotFoundError

        nc = await nats.connect(NATS_URL)
        try:
            await nc.jetstream().delete_stream(stream)
        except NotFoundError:
            pass
        finally:
            await nc.close()

    asyncio.run(drop())


CLIENT_ENV = "RISKOPS_BENCH_CLIENT"  # "python" forces the Python load generator
WRK_SCRIPT = Path(__file__).resolve().with_suffix(".lua")


def wrk_path() -> str | None:
    """The ``wrk`` load generator if installed (Debian package ``wrk``) and not turned off
    with ``RISKOPS_BENCH_CLIENT=python``."""
    import shutil

    if os.environ.get(CLIENT_ENV, "wrk") == "python":
        return None
    return shutil.which("wrk")


def _client(env: dict[str, str], url: str, n: int, c: int, offset: int = 0) -> dict[str, Any]:
    """Run the load generator in its own process; its JSON result. ``wrk`` when present
    (C: it leaves the server most of the second core), else the Python client."""
    if (wrk := wrk_path()) is not None:
        return _wrk(wrk, env, url, n, c, offset)
    cmd = [sys.executable, "-m", "bench.bench_decisions", "--client", url, str(n), str(c)]
    done = subprocess.run(
        [*cmd, str(offset)], env=env, capture_output=True, check=True, timeout=600
    )
    result: dict[str, Any] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    result["client"] = "python"
    return result


def _wrk(wrk: str, env: dict[str, str], url: str, n: int, c: int, offset: int) -> dict[str, Any]:
    """``n`` requests by ``wrk`` (one thread, ``c`` keep-alive connections, the bodies of
    ``body``), in the Python client's result shape. wrk stops at the ``n``-th answer; its
    latency percentiles are of every answer, and any answer that is not 2xx fails the run
    (``check_all_decided``), so they are those of decisions."""
    import signal

    threads = 1
    cmd = [wrk, f"-t{threads}", f"-c{c}", "-d600s", "-s", str(WRK_SCRIPT), url]
    cmd += ["--", env[TOKEN_ENV], str(n), str(offset), str(threads)]
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None
    finished = 0
    lines = []
    # wrk's main thread sleeps out its -d whatever its threads do: interrupt it (it then
    # prints its summary) once every thread has its answers
    for raw in process.stdout:
        line = raw.decode().rstrip("\n")
        lines.append(line)
        if line == "WRK_DONE":
            finished += 1
            if finished == threads:
                process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    results = [line for line in lines if line.startswith("WRK_RESULT ")]
    if process.returncode != 0 or not results:
        tail = "\n".join(lines)[-500:] + err.decode(errors="replace")[-500:]
        raise RuntimeError(f"wrk gave no result (exit {process.returncode}): {tail}")
    found = json.loads(results[-1].removeprefix("WRK_RESULT "))
    codes = {int(code): count for code, count in found["codes"].items()}
    ok = sum(count for code, count in codes.items() if 200 <= code < 300)
    answers = int(found["answers"])
    return {
        "requests": answers,
        "concurrency": c,
        "seconds": found["seconds"],
        # Throughput counts decisions made (2xx), never refusals or errors.
        "requests/s": ok / found["seconds"],
        "2xx": ok,
        "non-2xx": answers - ok + found["socket errors"],
        "p50 ms": found["p50 ms"],
        "p99 ms": found["p99 ms"],
        "codes": codes,
        "refused": found["refused"][:3],
        "decisions": found["decisions"],
        "failsafe": found["failsafe"],
        "client": "wrk",
    }


def _wait_ready(port: int, server: subprocess.Popen[bytes], path: str = "/readyz") -> None:
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(server.stderr.read().decode() if server.stderr else "server died")
        try:
            if httpx.get(f"http://127.0.0.1:{port}{path}", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the server did not become ready")


def measure(quick: bool = False) -> list[Result]:
    """The benchmark harness entry point (``python -m bench``).

    Targets are checked at 16 concurrent connections; 32 is shown too, where the server is
    past saturation and the tail grows (queueing, and the client sharing the two cores).
    Routed: to one partition worker owning every account (the target, checked at 16 and at
    32 connections: a routed answer crosses three processes, so a closed loop of 16 is
    bound by the latency before the machine, ADR 0049), and to the single-process monitor
    behind the same routing (what the routing itself costs).
    """
    n = 3_000 if quick else 20_000
    m16, m32 = run(n, 16), run(n, 32)
    embedded = run(n, 16, followers=True)
    routed = run_routed(n, 16)
    routed32 = run_routed(n, 32)
    routing = run_routed(n, 16, owner="runtime")
    return [
        at_least(NAME, "POST /v1/decisions, 16 conns", m16["requests/s"], "req/s", 1_500),
        Result(NAME, "p50, 16 conns", m16["p50 ms"], "ms"),
        Result(NAME, "server CPU per decision, 16 conns", m16["server cpu ms/req"], "ms"),
        at_most(NAME, "p99, 16 conns", m16["p99 ms"], "ms", 35),
        Result(NAME, "POST /v1/decisions, 32 conns", m32["requests/s"], "req/s"),
        Result(NAME, "p99, 32 conns", m32["p99 ms"], "ms"),
        Result(NAME, "16 conns, followers in the child", embedded["requests/s"], "req/s"),
        Result(NAME, "p99, 16 conns, followers in the child", embedded["p99 ms"], "ms"),
        at_least(
            NAME, "routed over NATS to the owner, 16 conns", routed["requests/s"], "req/s", 1_500
        ),
        Result(NAME, "p50, routed, 16 conns", routed["p50 ms"], "ms"),
        at_most(NAME, "p99, routed, 16 conns", routed["p99 ms"], "ms", 35),
        at_least(
            NAME, "routed over NATS to the owner, 32 conns", routed32["requests/s"], "req/s", 1_500
        ),
        Result(NAME, "p50, routed, 32 conns", routed32["p50 ms"], "ms"),
        at_most(NAME, "p99, routed, 32 conns", routed32["p99 ms"], "ms", 35),
        Result(
            NAME, "path CPU a routed decision, 32 conns", routed32["path cpu ms/decision"], "ms"
        ),
        Result(
            NAME, "routed to the single-process monitor, 16 conns", routing["requests/s"], "req/s"
        ),
        Result(NAME, "p99, routed to the single-process monitor", routing["p99 ms"], "ms"),
        Result(NAME, "owner CPU a routed decision", routed["owner cpu ms/decision"], "ms"),
    ]


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        client_main(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--owner":
        owner_main(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif "--routed" in sys.argv:
        at = sys.argv.index("--routed")
        args = [int(a) for a in sys.argv[1:at]][:2]
        rest = sys.argv[at + 1 :]
        runtime = "--runtime-owner" in rest
        partitions = int(rest[0]) if rest and rest[0].isdigit() else 1
        kind = "runtime" if runtime else "worker"
        sized = dict(zip(("n", "concurrency"), args, strict=False))
        print(json.dumps(run_routed(**sized, partitions=partitions, owner=kind), indent=2))
    else:
        args = [int(a) for a in sys.argv[1:] if a != "--followers"][:2]
        print(json.dumps(run(*args, followers="--followers" in sys.argv), indent=2))
