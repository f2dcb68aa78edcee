"""Rules to one DuckDB query over the flat rows, for backtests.

Stages: the projected base rows; the features (``sql_features``: each distinct feature
once, grouped by key and row set); per event type, the rows some rule on that type may hit
(``row_conditions``) with the features those rules read; then the hits of each rule over
the rows of its types. A rule hits when ``COALESCE(cond, false)``. See ADR 0011.
"""

from __future__ import annotations

from collections.abc import Sequence

from riskops.events.flat import FLAT_COLUMNS
from riskops.rules.definition import All, Cond, Feature, Ref, Rule, walk
from riskops.rules.lists import ListStore
from riskops.rules.sql_cond import cond_sql, fields, literal, q
from riskops.rules.sql_features import Evaluation, FeaturePlan, Rows, rows_sql

__all__ = ["HIT_COLUMNS", "compile_features", "compile_rules", "cond_sql", "literal", "q"]

HIT_COLUMNS = (
    "rule_id",
    "rule_version",
    "event_id",
    "row",
    "account_id",
    "source_row",
    "seq",
    "ts_us",
)
_ORDER = ("ts_us", "seq", "row")
_REPORTED = HIT_COLUMNS[2:]  # the flat columns of a hit


def _select(columns: Sequence[str]) -> str:
    return ", ".join(q(c) for c in columns)


def _columns(rules: Sequence[Rule]) -> list[str]:
    """The flat columns a rule set reads, plus those a hit reports: projecting early keeps
    every window operator's payload small."""
    need = {"event_id", "type", "account_id", "ts_us", "seq", "row", "source_row"}
    for rule in rules:
        need |= fields(rule.cond)
        for f in rule.features.values():
            need |= {f.by, *fields(f.where), *([f.field] if f.field else [])}
    return [c for c in FLAT_COLUMNS if c in need]


def _reads_features(cond: Cond) -> bool:
    return any(
        p.kind == "feature" or (isinstance(p.value, Ref) and p.value.kind == "feature")
        for p in walk(cond)
    )


def _conjuncts(cond: Cond) -> list[Cond]:
    if isinstance(cond, All):
        return [c for part in cond.parts for c in _conjuncts(part)]
    return [cond]


def row_conditions(rule: Rule) -> list[Cond]:
    """The parts of a rule's condition (a conjunction) that read no feature: a row where one
    of them is not true cannot hit, so the rule's features need not be joined to it."""
    return [c for c in _conjuncts(rule.cond) if not _reads_features(c)]


def compile_features(
    rules: Sequence[Rule], lists: ListStore | None = None
) -> tuple[str, list[Feature]]:
    """A query giving ``seq, row`` and every distinct feature (``f0``, ``f1``, ...) per flat
    row, ordered like the hits; the features in column order. For parity checks."""
    plan = FeaturePlan(lists or ListStore(), prune=False)
    for rule in rules:
        for f in rule.features.values():
            plan.add(f, rule.when)
    every = Evaluation("feat", None, _ORDER, plan.columns())
    cols = "".join(f", {c}" for c in every.features)
    sql = (
        f"WITH {plan.ctes(_columns(rules), [every])}\n"
        f'SELECT seq, "row"{cols} FROM feat ORDER BY ts_us, seq, "row"'
    )
    return sql, plan.features()


def compile_rules(rules: Sequence[Rule], lists: ListStore | None = None) -> str:
    """One DuckDB query over the relation ``flat`` giving the hits of every rule, ordered
    by (ts_us, seq, row); columns are ``HIT_COLUMNS``. Runs every rule it is given."""
    lists = lists or ListStore()
    if not rules:
        return (
            "SELECT CAST(NULL AS VARCHAR) AS rule_id, CAST(NULL AS INTEGER) AS rule_version, "
            'event_id, "row", account_id, source_row, seq, ts_us FROM flat WHERE FALSE'
        )
    plan = FeaturePlan(lists)
    names: list[dict[str, str]] = []
    # Per event type, what its rules need: the rows they may hit on, fields, features.
    rows: dict[str, list[Rows]] = {}
    reads: dict[str, set[str]] = {}
    features: dict[str, set[str]] = {}
    for rule in rules:
        conds = row_conditions(rule)
        names.append({n: plan.add(f, rule.when, conds) for n, f in rule.features.items()})
        sql_conds = frozenset(cond_sql(c, {}, lists) for c in conds)
        for t in rule.when:
            rows.setdefault(t, []).append(Rows(frozenset([t]), sql_conds))
            reads.setdefault(t, set(_REPORTED)).update(fields(rule.cond))
            features.setdefault(t, set()).update(names[-1].values())
    evaluations: dict[str, Evaluation] = {}
    for i, t in enumerate(sorted(rows)):
        columns = sorted(features[t], key=lambda c: int(c[1:]))
        evaluations[t] = Evaluation(f"e{i}", rows_sql(rows[t]), reads[t], columns)
    selects = [
        f"SELECT {i} AS __idx, {literal(rule.id)} AS rule_id, {rule.version} AS rule_version, "
        f"{_select(_REPORTED)} FROM {evaluations[t].name} "
        f"WHERE COALESCE({cond_sql(rule.cond, names[i], lists)}, FALSE)"
        for i, rule in enumerate(rules)
        for t in sorted(rule.when)
    ]
    union = "\nUNION ALL\n".join(selects)
    return f"""
WITH {plan.ctes(_columns(rules), list(evaluations.values()))}
SELECT rule_id, rule_version, event_id, "row", account_id, source_row, seq, ts_us
FROM ({union})
ORDER BY ts_us, seq, "row", __idx
"""
