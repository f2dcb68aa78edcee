"""Outbound delivery: queued emails delivered to a local SMTP server (aiosmtpd), per second,
and the same with the server down for a while in the middle.

- **throughput**: ``--messages`` emails queued (one transaction per 1,000, as callers
  would), then delivered by one ``Deliverer`` (passes of 200, one SMTP connection per
  pass) to an aiosmtpd server on 127.0.0.1; messages/s from the first pass to the last
  message recorded sent.
- **outage**: the same again; once half are received the server stops for ``--outage``
  seconds, then comes back on the same port. Nothing may be lost (every message ends
  ``sent`` and its Message-ID was received) and nothing sent twice (received copies ==
  distinct Message-IDs == messages); the failures wait ``retrying`` with backoff (0.5 s
  doubling to 5 s here, so the run ends soon after the server is back).

SQLite by default (a file in a temporary directory); ``--postgres`` uses
``RISKOPS_BENCH_POSTGRES_URL`` in a schema of its own.

    python -m bench.bench_delivery [--messages N] [--outage SECONDS] [--postgres] [--quick]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from bench.common import Result, at_least, drop_schema, schema_engine
from riskops.kernel.db import make_engine, migrate, session_factory, unit_of_work
from riskops.outbound.models import OutboundMessage, Status
from riskops.outbound.service import Channel, enqueue
from riskops.outbound.tasks import Deliverer, Policy
from riskops.outbound.transports import (
    LocalSmsTransport,
    SmtpTransport,
    SmtpUrl,
    Transports,
    WebhookTransport,
)

NAME = "delivery"
TARGET = 200  # messages/s (issue 11)


# The SMTP server runs in a process of its own (as a real one would: not competing for this
# process's GIL); it appends each Message-ID it accepts to a file before answering 250.
_SERVER = """
import email, sys
from aiosmtpd.controller import Controller

class Handler:
    def __init__(self, path):
        self.out = open(path, "a", buffering=1)

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.original_content)
        self.out.write(str(message["Message-ID"]) + "\\n")
        return "250 OK"

controller = Controller(Handler(sys.argv[2]), hostname="127.0.0.1", port=int(sys.argv[1]))
controller.start()
print("ready", flush=True)
sys.stdin.read()  # until the benchmark closes our stdin (or kills us: the outage)
controller.stop()
"""


class Receiver:
    """The SMTP server process and the Message-IDs it received."""

    def __init__(self, port: int, path: Path) -> None:
        self.port, self.path = port, path
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", _SERVER, str(self.port), str(self.path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline().strip() == "ready"

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def ids(self) -> list[str]:
        if not self.path.exists():
            return []
        return [line for line in self.path.read_text().splitlines() if line]

    def wait_for(self, count: int) -> None:
        while len(self.ids()) < count:
            time.sleep(0.05)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _database(postgres: bool) -> Iterator[Engine]:
    if postgres:
        schema = f"bench_delivery_{os.getpid()}"
        engine = schema_engine(schema)
        try:
            migrate(engine)
            yield engine
        finally:
            engine.dispose()
            drop_schema(schema)
        return
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'delivery.db'}")
        migrate(engine)
        try:
            yield engine
        finally:
            engine.dispose()


def _queue(engine: Engine, n: int) -> None:
    sessions = session_factory(engine)
    now = datetime.now(UTC)
    for start in range(0, n, 1_000):
        with unit_of_work(sessions) as s:
            for i in range(start, min(n, start + 1_000)):
                # What the deliverer sends is the same whatever queued it; customer
                # messages are queued through contact's guard (enqueue_customer), which
                # this benchmark of the delivery does not time.
                enqueue(
                    s,
                    channel=Channel.EMAIL,
                    to=f"reviewer{i}@example.com",
                    subject=f"Case {i}: a notice",
                    body=f"Hello,\n\ncase {i} changed; see the console.\n",
                    purpose="bench",
                    case_id=i,
                    now=now,
                )


def _statuses(engine: Engine) -> dict[str, int]:
    with session_factory(engine)() as s:
        rows = s.execute(
            select(OutboundMessage.status, func.count()).group_by(OutboundMessage.status)
        )
        return {Status(st).value: int(n) for st, n in rows}


def _run(postgres: bool, n: int, outage: float | None) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp())
    port = _free_port()
    receiver = Receiver(port, tmp / "received.txt")
    with _database(postgres) as engine:
        _queue(engine, n)
        smtp = SmtpTransport(SmtpUrl.parse(f"smtp://127.0.0.1:{port}"), "riskops@bench")
        transports = Transports(smtp, LocalSmsTransport(tmp), WebhookTransport())
        policy = Policy(
            max_attempts=1_000, retry_seconds=0.5, retry_max_seconds=5.0, lease_seconds=60
        )
        deliverer = Deliverer(session_factory(engine), transports, policy)
        receiver.start()
        down: list[float] = []

        def outage_at_half() -> None:
            receiver.wait_for(n // 2)
            receiver.kill()
            down.append(time.monotonic())
            time.sleep(outage or 0)
            receiver.start()
            down.append(time.monotonic())

        chaos = threading.Thread(target=outage_at_half, daemon=True) if outage else None
        started = time.monotonic()
        if chaos:
            chaos.start()
        failures = passes = sent = 0
        while sent < n:
            r = deliverer.run_pass()
            passes += 1
            sent += r.sent
            failures += r.retrying + r.dead
            if r.claimed == 0:
                time.sleep(0.05)  # nothing due: the next retry is a little way off
        elapsed = time.monotonic() - started
        if chaos:
            chaos.join()
        receiver.kill()
        statuses = _statuses(engine)
        received = receiver.ids()
    return {
        "elapsed": elapsed,
        "rate": n / elapsed,
        "received": len(received),
        "distinct": len(set(received)),
        "statuses": statuses,
        "failed_attempts": failures,
        "passes": passes,
        "outage": (down[1] - down[0]) if len(down) == 2 else 0.0,
    }


def measure(
    quick: bool, messages: int | None = None, outage: float | None = None, postgres: bool = False
) -> list[Result]:
    n = messages or (1_000 if quick else 10_000)
    pause = outage if outage is not None else (5.0 if quick else 60.0)
    db = "PostgreSQL" if postgres else "SQLite"
    plain = _run(postgres, n, None)
    results = [
        at_least(NAME, f"{n:,} emails to SMTP ({db}), no outage", plain["rate"], "msg/s", TARGET)
    ]
    broken = _run(postgres, n, pause)
    sent = broken["statuses"].get("sent", 0)
    results += [
        Result(NAME, f"  with the server down {broken['outage']:.0f} s", broken["rate"], "msg/s"),
        Result(NAME, "  failed attempts during the outage", broken["failed_attempts"], ""),
        Result(NAME, "  lost (not sent)", n - sent, "msgs", "== 0", n - sent == 0),
        Result(
            NAME,
            "  sent twice (copies - distinct ids)",
            broken["received"] - broken["distinct"],
            "msgs",
            "== 0",
            broken["received"] == broken["distinct"],
        ),
        Result(
            NAME,
            "  distinct Message-IDs received",
            broken["distinct"],
            "msgs",
            f"== {n:,}",
            broken["distinct"] == n,
        ),
    ]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=None, help="default 10,000")
    parser.add_argument("--outage", type=float, default=None, help="seconds, default 60")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--quick", action="store_true", help="1,000 messages, 5 s outage")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    for r in measure(args.quick, args.messages, args.outage, args.postgres):
        mark = "" if r.ok is None else ("  ok" if r.ok else "  MISSED")
        print(f"{r.name:45s} {r.shown:>22s}  {r.target}{mark}")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
