"""Rules to one DuckDB query over the flat rows, for backtests.

Stages: the projected base rows, the features (``sql_features``: each distinct feature
once, grouped by key and row set), then the hits: one list of matching rule indexes per
row, unnested. A rule hits when ``COALESCE(cond, false)``.
"""

from __future__ import annotations

from collections.abc import Sequence

from riskops.events.flat import FLAT_COLUMNS
from riskops.rules.lists import ListStore
from riskops.rules.model import Cond, Feature, Ref, Rule, walk
from riskops.rules.sql_cond import cond_sql, literal, q
from riskops.rules.sql_features import FeaturePlan

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


def _columns(rules: Sequence[Rule]) -> list[str]:
    """The flat columns a rule set reads, plus those a hit reports: projecting early keeps
    every window operator's payload small."""
    need = {"event_id", "type", "account_id", "ts_us", "seq", "row", "source_row"}
    conds: list[Cond] = []
    for rule in rules:
        conds.append(rule.cond)
        for f in rule.features.values():
            need.add(f.by)
            if f.field:
                need.add(f.field)
            if f.where is not None:
                conds.append(f.where)
    for cond in conds:
        for p in walk(cond):
            if p.kind == "field":
                need.add(p.name)
            if isinstance(p.value, Ref) and p.value.kind == "field":
                need.add(p.value.name)
    return [c for c in FLAT_COLUMNS if c in need]


def compile_features(
    rules: Sequence[Rule], lists: ListStore | None = None
) -> tuple[str, list[Feature]]:
    """A query giving ``seq, row`` and every distinct feature (``f0``, ``f1``, ...) per flat
    row, ordered like the hits; the features in column order. For parity checks."""
    plan = FeaturePlan(lists or ListStore(), prune=False)
    for rule in rules:
        for f in rule.features.values():
            plan.add(f, rule.when)
    cols = "".join(f", f{i}" for i in range(len(plan.entries)))
    sql = (
        f"WITH {plan.ctes(_columns(rules), None)}\n"
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
    selects: list[str] = []
    when: set[str] = set()
    for i, rule in enumerate(rules):
        names = {name: plan.add(f, rule.when) for name, f in rule.features.items()}
        types = ", ".join(literal(t) for t in sorted(rule.when))
        when.update(rule.when)
        cond = cond_sql(rule.cond, names, lists)
        # One scan of the materialised features per rule: the type test prunes most rows
        # before the condition runs.
        selects.append(
            f"SELECT {i} AS __idx, {literal(rule.id)} AS rule_id, {rule.version} AS rule_version, "
            f'event_id, "row", account_id, source_row, seq, ts_us FROM feat '
            f"WHERE {q('type')} IN ({types}) AND COALESCE({cond}, FALSE)"
        )
    union = "\nUNION ALL\n".join(selects)
    return f"""
WITH {plan.ctes(_columns(rules), when)}
SELECT rule_id, rule_version, event_id, "row", account_id, source_row, seq, ts_us
FROM ({union})
ORDER BY ts_us, seq, "row", __idx
"""
