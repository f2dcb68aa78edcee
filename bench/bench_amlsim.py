"""Third-party check: the default rule pack on AMLSim 10K (another generator's data).

The rules were written for riskops' own simulator, never for this file. Each AMLworld row
becomes an internal transfer (two flat rows: sender and receiver); a labelled row counts as
detected when any default rule hits either of its rows. Recall is per typology (fan-in,
fan-out, cycle, from the file's Patterns.csv); precision is over the rows that raised alerts.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from pathlib import Path

from bench.common import OUT, Result

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "amlsim-10k"
TRANSACTIONS = DATA / "AMLSIM10K_Trans.csv.gz"
PATTERNS = DATA / "AMLSIM10K_Patterns.csv"


def evaluate(hits_csv: Path, patterns_csv: Path, laundering_rows: set[int]) -> dict[str, object]:
    """Recall per typology and precision from a HITS.csv and the file's labels."""
    typology_of: dict[int, str] = {}
    with patterns_csv.open() as fh:
        for rec in csv.DictReader(fh):
            typology_of[int(rec["row"])] = rec["typology"]
    hit_rows: set[int] = set()
    rows_by_rule: dict[str, set[int]] = defaultdict(set)
    with hits_csv.open() as fh:
        for rec in csv.DictReader(fh):
            row = int(rec["source_row"])
            hit_rows.add(row)
            rows_by_rule[rec["rule_id"]].add(row)
    totals = Counter(typology_of.values())
    found = Counter(t for row, t in typology_of.items() if row in hit_rows)
    recall = {t: found[t] / n for t, n in sorted(totals.items())}
    all_labelled = set(typology_of) | laundering_rows
    true_hits = len(hit_rows & all_labelled)
    per_rule = {
        rule: (len(rows), len(rows & all_labelled)) for rule, rows in sorted(rows_by_rule.items())
    }
    return {
        "recall": recall,
        "labelled": dict(totals),
        "found": dict(found),
        "alerted_rows": len(hit_rows),
        "true_alerted_rows": true_hits,
        "precision": true_hits / len(hit_rows) if hit_rows else 0.0,
        "per_rule": per_rule,
        "overall_recall": sum(found.values()) / max(1, sum(totals.values())),
    }


def measure(quick: bool = False) -> list[Result]:
    from riskops.events.amlworld import read_amlworld_labels
    from riskops.rules.backtest import backtest
    from riskops.rules.definition import load_default_pack
    from riskops.rules.lists import default_lists

    if not TRANSACTIONS.exists():
        return [Result("amlsim", f"data set missing at {DATA}", 0, "", "present", False)]
    OUT.mkdir(parents=True, exist_ok=True)
    hits_csv = OUT / "amlsim_hits.csv"
    backtest(load_default_pack(), TRANSACTIONS, fmt="amlworld", lists=default_lists(), out=hits_csv)
    labels = read_amlworld_labels(TRANSACTIONS)
    laundering = {row for row, bad in labels.items() if bad}
    report = evaluate(hits_csv, PATTERNS, laundering)
    results = [
        Result("amlsim", f"recall {typology}", 100 * value, "%")
        for typology, value in report["recall"].items()  # type: ignore[attr-defined]
    ]
    results.append(Result("amlsim", "recall, all laundering", 100 * report["overall_recall"], "%"))  # type: ignore[operator]
    results.append(Result("amlsim", "alert precision (rows)", 100 * report["precision"], "%"))  # type: ignore[operator]
    results.append(Result("amlsim", "rows alerted", float(report["alerted_rows"]), "rows"))  # type: ignore[arg-type]
    return results


if __name__ == "__main__":
    for r in measure():
        print(f"{r.name:32} {r.shown}")
