"""Backoff for long-running loops (the monitor worker, the NATS consumer) that must outlive
a lost database or broker: wait longer after each failure, start again after a success.

Jitter spreads the reconnects of several processes that lost the same server at once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Exponential backoff with full jitter, capped at ``maximum`` seconds.

    ``next_delay()`` after each failure, ``reset()`` after a success. ``failures`` counts
    the failures since the last success (for logs and health).
    """

    initial: float = 0.5
    maximum: float = 30.0
    factor: float = 2.0
    jitter: bool = True
    failures: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def next_delay(self) -> float:
        """The pause before the next attempt, and one more failure counted."""
        ceiling = min(self.maximum, self.initial * self.factor**self.failures)
        self.failures += 1
        if not self.jitter:
            return ceiling
        # Never less than half the ceiling: a tight loop against a dead server helps no one.
        return ceiling / 2 + self._rng.random() * ceiling / 2

    def reset(self) -> None:
        self.failures = 0
