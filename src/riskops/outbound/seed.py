"""Demo data of the outbox: the "exchange's" webhook subscription, so /outbox and the case
pages' delivery panels show webhooks retrying against an exchange that is not listening.

The lead's ``riskops.demo`` calls ``seed(session, now, rng)``; the worker's delivery pass
then tries the webhooks. The demo's messages to customers are contact's
(``riskops.contact.seed``, through ``contact.service.send`` and its tipping-off guard):
outbound refuses a customer message that did not pass the guard (ADR 0033).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from riskops.auth.permissions import Principal
from riskops.outbound import repository, webhooks

# Nothing listens on the discard port: the demo's webhooks fail and wait, retrying.
DEMO_HOOK_URL = "http://127.0.0.1:9/riskops-demo-exchange"
DEMO_TOPICS = ("decision.held", "decision.blocked", "hold.resolved", "case.closed")


@dataclass(frozen=True)
class Summary:
    subscription_id: int | None


def seed(session: Session, now: datetime, rng: random.Random, *, subscribe: bool = True) -> Summary:
    """Subscribe the demo exchange's webhook (unless ``subscribe`` is False). Idempotent: an
    existing demo subscription is kept. ``rng``: the demo's, for the signature it shares
    with the other seeds."""
    if not subscribe:
        return Summary(None)
    existing = [s for s in repository.subscriptions(session) if s.url == DEMO_HOOK_URL]
    if existing:
        return Summary(existing[0].id)
    sub = webhooks.create_subscription(
        session,
        Principal.system("demo"),
        url=DEMO_HOOK_URL,
        topics=DEMO_TOPICS,
        description="The demo exchange (not listening: its deliveries retry)",
        now=now,
    )
    return Summary(sub.id)
