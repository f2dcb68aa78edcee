"""``GET /metrics``: Prometheus metrics, read from the database on each scrape.

A custom collector (``prometheus_client``) asks the database when Prometheus scrapes, so
the numbers are true whichever process did the work: events in, decisions out by outcome,
the monitor's lag and quarantine, dead letters by source, open cases and SLA breaches by
queue. Counts only: the endpoint needs no login, so no label names an account or an event.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from riskops.auth.permissions import Principal
from riskops.kernel.clock import utcnow

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from riskops.web.deps import Container

_METRICS = Principal.system("metrics")


class RiskopsCollector(Collector):
    """Reads the metrics from the database at scrape time."""

    def __init__(self, container: Container) -> None:
        self.container = container

    def collect(self) -> Iterator[Metric]:
        from riskops.cases import service as cases
        from riskops.events import repository as events
        from riskops.monitor import repository as monitor_repo
        from riskops.monitor.health import monitor_health

        now = utcnow()
        settings = self.container.settings
        with self.container.sessions() as session:
            event_count = events.count_events(session)
            health = monitor_health(session, stall_seconds=settings.monitor_stall_seconds, now=now)
            stored = monitor_repo.outcome_counts(session)
            letters = events.dead_letters_by_source(session)
            queues = cases.queue_overview(session, _METRICS, now)
        yield CounterMetricFamily(
            "riskops_events", "Events accepted into the event log.", value=event_count
        )
        decisions = CounterMetricFamily(
            "riskops_decisions",
            "Decisions (one per flat row) made by this process's monitor since it started.",
            labels=["outcome"],
        )
        runtime = self.container.started_runtime
        for outcome, n in sorted(runtime.totals.outcomes.items() if runtime else []):
            decisions.add_metric([outcome], n)
        yield decisions
        logged = GaugeMetricFamily(
            "riskops_decisions_stored",
            "Decisions in the decision log by outcome (plain allows are counted, not stored).",
            labels=["outcome"],
        )
        for outcome, n in stored:
            logged.add_metric([outcome], n)
        yield logged
        yield GaugeMetricFamily(
            "riskops_monitor_lag_events", "Events in the log not yet decided.", value=health.lag
        )
        yield GaugeMetricFamily(
            "riskops_monitor_checkpoint", "The last seq the monitor committed.", health.checkpoint
        )
        yield GaugeMetricFamily(
            "riskops_monitor_stalled",
            "1 when events wait and the monitor made no progress within the stall limit.",
            value=int(health.stalled),
        )
        yield GaugeMetricFamily(
            "riskops_monitor_quarantined_events",
            "Events the monitor could not decide and set aside (not replayed).",
            value=health.quarantined,
        )
        dead = GaugeMetricFamily(
            "riskops_dead_letters", "Dead letters by source.", labels=["source"]
        )
        for source, n in letters:
            dead.add_metric([source], n)
        yield dead
        depth = GaugeMetricFamily("riskops_cases_open", "Open cases by queue.", labels=["queue"])
        breached = GaugeMetricFamily(
            "riskops_cases_sla_breached",
            "Open cases past their SLA deadline (SLA running), by queue.",
            labels=["queue"],
        )
        for queue in queues:
            depth.add_metric([queue.key], queue.open)
            breached.add_metric([queue.key], queue.breached)
        yield depth
        yield breached
        if (followers := self.container.followers) is not None:  # ADR 0029
            yield from followers.metrics()


def include(app: FastAPI, container: Container) -> None:
    """Serve ``GET /metrics`` from a registry of this app's own (no global state)."""
    registry = CollectorRegistry()
    registry.register(RiskopsCollector(container))

    text = {"text/plain": {"schema": {"type": "string"}}}

    @app.get(
        "/metrics",
        tags=["health"],
        response_class=Response,
        responses={200: {"description": "The Prometheus text format.", "content": text}},
    )
    def metrics() -> Response:
        """Prometheus metrics (text format): events in, decisions out by outcome, the
        monitor's lag and quarantine, dead letters, open cases and SLA breaches by queue.
        Counts only, no personal data; no login."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
