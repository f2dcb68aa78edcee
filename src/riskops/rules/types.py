"""What a rule evaluation yields: the contract between the rules engines and the monitor."""

from __future__ import annotations

import enum

import msgspec

Truth = bool | None
"""A condition's value in SQL's three-valued logic: True, False or None (unknown)."""


class Action(enum.IntEnum):
    """Outcomes, ordered by strength: the decision is the strongest hit."""

    ALLOW = 0
    REVIEW = 1
    HOLD = 2
    BLOCK = 3

    @property
    def label(self) -> str:
        return _LABELS[self]  # per decision row: a lookup, not ``self.name.lower()``

    @classmethod
    def parse(cls, text: str) -> Action:
        return cls[text.upper()]


_LABELS = {action: action.name.lower() for action in Action}


class RuleStatus(enum.StrEnum):
    DRAFT = "draft"
    SHADOW = "shadow"
    LIVE = "live"
    # A stored version replaced by a newer live/shadow one; never in a rule document.
    RETIRED = "retired"


class Hit(msgspec.Struct, frozen=True):
    """A rule whose condition was true on a row."""

    rule_id: str
    version: int
    action: Action
    score: int
    reason: str
    typology: str
    shadow: bool = False


class RuleError(msgspec.Struct, frozen=True):
    """A rule that raised while evaluating; recorded, never fatal to the decision."""

    rule_id: str
    version: int
    message: str


class Evaluation(msgspec.Struct):
    """All rule results for one flat row."""

    hits: list[Hit]
    errors: list[RuleError]

    @property
    def live_hits(self) -> list[Hit]:
        return [h for h in self.hits if not h.shadow]
