"""Detection quality: recall of planted typologies and precision of alerts, from labels.

Used by ``riskops demo`` (simulated exchange) and by the third-party check on AMLworld-format
files. Pure functions over plain data; no database.

Definitions (the same everywhere they are printed):
- A planted **scenario** is *caught* when at least one live alert lands on one of its
  labelled events. Scenario recall = caught / planted, per typology.
- Event recall = labelled events with a live alert / labelled events, per typology.
- An alert is **true** when its event is labelled, or its account takes part in a planted
  scenario (the analyst who opens it finds something real). Precision = true / all, per
  typology of the rule that raised it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from riskops.rules.parse import REVIEW_TYPOLOGIES


@dataclass(frozen=True)
class AlertRef:
    rule_id: str
    rule_typology: str
    event_id: str
    account_id: str
    shadow: bool = False
    # ``monitor.models.opens_case``: not a shadow hit, nor a signal (action allow, the anomaly)
    opens_case: bool = True


@dataclass(frozen=True)
class EventLabel:
    typology: str
    scenario_id: str


@dataclass
class TypologyScore:
    typology: str
    scenarios: int = 0
    caught: int = 0
    labelled_events: int = 0
    detected_events: int = 0
    alerts: int = 0
    true_alerts: int = 0

    @property
    def scenario_recall(self) -> float | None:
        return self.caught / self.scenarios if self.scenarios else None

    @property
    def event_recall(self) -> float | None:
        return self.detected_events / self.labelled_events if self.labelled_events else None

    @property
    def precision(self) -> float | None:
        return self.true_alerts / self.alerts if self.alerts else None


@dataclass
class DetectionReport:
    by_typology: dict[str, TypologyScore] = field(default_factory=dict)
    alerts: int = 0
    true_alerts: int = 0

    @property
    def precision(self) -> float | None:
        return self.true_alerts / self.alerts if self.alerts else None

    def score(self, typology: str) -> TypologyScore:
        return self.by_typology.setdefault(typology, TypologyScore(typology))


def score_detection(
    alerts: Iterable[AlertRef],
    event_labels: Mapping[str, EventLabel],
    scenario_accounts: Iterable[str],
) -> DetectionReport:
    """Score live alerts against planted labels (shadow hits and signals are ignored)."""
    bad_accounts = set(scenario_accounts)
    report = DetectionReport()
    detected: set[str] = set()
    for alert in alerts:
        if not alert.opens_case or alert.rule_typology in REVIEW_TYPOLOGIES:
            # shadow hits and signals (the anomaly's, shown on cases) open no case;
            # due-diligence reviews claim no suspicion
            continue
        is_true = alert.event_id in event_labels or alert.account_id in bad_accounts
        report.alerts += 1
        report.true_alerts += is_true
        score = report.score(alert.rule_typology)
        score.alerts += 1
        score.true_alerts += is_true
        if alert.event_id in event_labels:
            detected.add(alert.event_id)
    scenarios: dict[str, set[str]] = defaultdict(set)
    caught: dict[str, set[str]] = defaultdict(set)
    for event_id, label in event_labels.items():
        score = report.score(label.typology)
        score.labelled_events += 1
        scenarios[label.typology].add(label.scenario_id)
        if event_id in detected:
            score.detected_events += 1
            caught[label.typology].add(label.scenario_id)
    for typology, ids in scenarios.items():
        report.score(typology).scenarios = len(ids)
        report.score(typology).caught = len(caught[typology])
    return report


def pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"
