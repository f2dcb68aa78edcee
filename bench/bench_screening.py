"""Screening quality and speed: riskops vs a rapidfuzz token-sort baseline vs nomenklatura
logic-v2, on the labelled variation set (bench/screening_variations.py).

    python -m bench.bench_screening              # all three, the UN list and the 20k list
    python -m bench.bench_screening --no-peers   # riskops only

Each screener is measured at its documented threshold: riskops 0.80 (DEFAULT_THRESHOLD),
logic-v2 0.70 (the cut-off yente uses), token-sort 85 (rapidfuzz documents none; 85 is the
usual choice). The best threshold of each on this set is shown too.

Metrics, per query: a positive is found when its listed entry is among the matches (recall);
an alert is a query with at least one match, correct when it is a positive whose entry is
among them (precision). Speed is names screened per second of CPU time on one core (the
process's own CPU time, so a machine loaded by other work does not distort it), after the
index is built (riskops) or the peer's data loaded (logic-v2).

nomenklatura needs ``duckdb<2`` and riskops pins duckdb 2, so logic-v2 runs in its own venv,
``bench/out/peers-venv``, which this script creates with pip from the package index
(nomenklatura 4.17.4, rapidfuzz 3.14.6) and drives through ``bench/screening_peer.py``.
logic-v2 scores pairs only; like yente (which asks a search index), it gets candidates from
a prefilter: the 30 best names by rapidfuzz WRatio over the whole list, both sides
transliterated by normality as FollowTheMoney does.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.common import OUT, Result, at_least
from bench.screening_variations import (
    SEED,
    Labelled,
    synthetic_entries,
    un_entries,
    variation_set,
)
from riskops.screening.lists import ListEntry, Query
from riskops.screening.matcher import DEFAULT_THRESHOLD, Screener
from riskops.screening.normalise import fold

PEERS_VENV = OUT / "peers-venv"
PEER_SCRIPT = Path(__file__).resolve().parent / "screening_peer.py"
PEER_PACKAGES = ("nomenklatura==4.17.4", "rapidfuzz==3.14.6")
LIST_NAMES = 20_000

Scores = dict[str, dict[str, float]]  # query id -> entry id -> score (0..1)


@dataclass(frozen=True, slots=True)
class Quality:
    threshold: float
    recall: float
    precision: float
    f1: float
    alerts: int


@dataclass(frozen=True, slots=True)
class Run:
    screener: str
    list_name: str
    scores: Scores
    names_per_second: float  # per CPU-second of the one thread
    threshold: float
    wall_names_per_second: float | None = None


def quality(rows: Sequence[Labelled], scores: Scores, threshold: float) -> Quality:
    positives = found = alerts = correct = 0
    for row in rows:
        hits = {e for e, s in scores.get(row.query_id, {}).items() if s >= threshold}
        if row.expected:
            positives += 1
            found += row.expected in hits
        if hits:
            alerts += 1
            correct += bool(row.expected) and row.expected in hits
    recall = found / positives if positives else 0.0
    precision = correct / alerts if alerts else 1.0
    f1 = 2 * recall * precision / (recall + precision) if recall + precision else 0.0
    return Quality(threshold, recall, precision, f1, alerts)


def best_quality(rows: Sequence[Labelled], scores: Scores) -> Quality:
    grid = [x / 100 for x in range(50, 100)]
    return max((quality(rows, scores, t) for t in grid), key=lambda q: q.f1)


def _query(row: Labelled) -> Query:
    return Query(row.name, row.birth_date or None, row.country or None, row.kind or None)


def run_riskops(rows: Sequence[Labelled], entries: Sequence[ListEntry], list_name: str) -> Run:
    # Scores are collected below the threshold so the best threshold can be found; the speed
    # is measured separately at the default threshold, as production runs it.
    low = Screener(entries, threshold=0.5)
    scores: Scores = {}
    for row in rows:
        scores[row.query_id] = {m.entry.entry_id: m.score for m in low.screen(_query(row))}
    screener = Screener(entries)
    queries = [_query(row) for row in rows]
    started, wall = time.process_time(), time.perf_counter()
    screener.screen_many(queries)
    elapsed, wall = time.process_time() - started, time.perf_counter() - wall
    return Run(
        "riskops", list_name, scores, len(rows) / elapsed, DEFAULT_THRESHOLD, len(rows) / wall
    )


def run_token_sort(rows: Sequence[Labelled], entries: Sequence[ListEntry], list_name: str) -> Run:
    from rapidfuzz import fuzz, process

    # The baseline gets the same transliteration and case folding (anyascii) as riskops, so
    # what is compared is the matching, not the script handling.
    choices: list[str] = []
    owners: list[str] = []
    for entry in entries:
        for name in entry.names:
            choices.append(fold(name))
            owners.append(entry.entry_id)
    scores: Scores = {}
    started, wall = time.process_time(), time.perf_counter()
    for row in rows:
        found: dict[str, float] = {}
        for _, score, index in process.extract(
            fold(row.name), choices, scorer=fuzz.token_sort_ratio, score_cutoff=50, limit=None
        ):
            owner = owners[index]
            found[owner] = max(found.get(owner, 0.0), score / 100)
        scores[row.query_id] = found
    elapsed, wall = time.process_time() - started, time.perf_counter() - wall
    return Run(
        "rapidfuzz token-sort", list_name, scores, len(rows) / elapsed, 0.85, len(rows) / wall
    )


def ensure_peers_venv() -> Path:
    python = PEERS_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEERS_VENV)], check=True)
    probe = subprocess.run(
        [str(python), "-c", "import nomenklatura, rapidfuzz"], capture_output=True, check=False
    )
    if probe.returncode != 0:
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PEER_PACKAGES], check=True)
    return python


def run_logic_v2(rows: Sequence[Labelled], entries: Sequence[ListEntry], list_name: str) -> Run:
    python = ensure_peers_venv()
    work = OUT / "screening-peer"
    work.mkdir(parents=True, exist_ok=True)
    entries_path, queries_path, out_path = (
        work / "entries.jsonl",
        work / "queries.jsonl",
        work / f"scores-{list_name}.json",
    )
    with entries_path.open("w", encoding="utf-8") as handle:
        for entry in entries:
            record = {
                "id": entry.entry_id,
                "kind": entry.kind,
                "names": list(entry.names),
                "birth_dates": list(entry.birth_dates),
                "countries": list(entry.countries),
            }
            handle.write(json.dumps(record) + "\n")
    with queries_path.open("w", encoding="utf-8") as handle:
        for row in rows:
            record = {
                "id": row.query_id,
                "name": row.name,
                "birth_date": row.birth_date,
                "country": row.country,
                "kind": row.kind,
            }
            handle.write(json.dumps(record) + "\n")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(
        [str(python), str(PEER_SCRIPT), str(entries_path), str(queries_path), str(out_path)],
        check=True,
        env=env,
    )
    result = json.loads(out_path.read_text(encoding="utf-8"))
    return Run(
        "nomenklatura logic-v2", list_name, result["scores"], result["names_per_second"], 0.70
    )


def lists() -> dict[str, list[ListEntry]]:
    un = un_entries()
    un_names = sum(len(e.names) for e in un)
    return {
        "UN list": un,
        "20k list": un + list(synthetic_entries(LIST_NAMES - un_names)),
    }


def compare(peers: bool, seed: int = SEED) -> tuple[list[Labelled], list[Run]]:
    runners: list[Callable[[Sequence[Labelled], Sequence[ListEntry], str], Run]] = [run_riskops]
    if peers:
        runners += [run_token_sort, run_logic_v2]
    rows = variation_set(seed=seed)
    runs: list[Run] = []
    for list_name, entries in lists().items():
        for runner in runners:
            runs.append(runner(rows, entries, list_name))
    return rows, runs


def table(rows: Sequence[Labelled], runs: Sequence[Run]) -> str:
    lines = [
        "| list | screener | threshold | recall | precision | F1 | names/s (CPU) | names/s (wall) "
        "| best F1 (at) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        at = quality(rows, run.scores, run.threshold)
        best = best_quality(rows, run.scores)
        wall = "—" if run.wall_names_per_second is None else f"{run.wall_names_per_second:,.0f}"
        lines.append(
            f"| {run.list_name} | {run.screener} | {run.threshold:.2f} | {at.recall:.3f} | "
            f"{at.precision:.3f} | {at.f1:.3f} | {run.names_per_second:,.0f} | {wall} | "
            f"{best.f1:.3f} ({best.threshold:.2f}) |"
        )
    return "\n".join(lines)


def by_variation(rows: Sequence[Labelled], runs: Sequence[Run]) -> str:
    """Share of each variation's queries answered as labelled, per screener (first list)."""
    first = [run for run in runs if run.list_name == runs[0].list_name]
    kinds = sorted({row.variation for row in rows})
    header = " | ".join(run.screener for run in first)
    lines = [f"| variation | queries | {header} |", "|---|---|" + "---|" * len(first)]
    for kind in kinds:
        subset = [row for row in rows if row.variation == kind]
        shares = []
        for run in first:
            good = 0
            for row in subset:
                scores = run.scores.get(row.query_id, {})
                hits = {e for e, s in scores.items() if s >= run.threshold}
                good += (row.expected in hits) if row.expected else not hits
            shares.append(f"{good / len(subset):.3f}")
        lines.append(f"| {kind} | {len(subset)} | {' | '.join(shares)} |")
    return "\n".join(lines)


def measure(quick: bool) -> list[Result]:
    """For ``python -m bench``: riskops alone (the peers run with ``-m bench.bench_screening``)."""
    rows = variation_set()
    results: list[Result] = []
    for list_name, entries in lists().items():
        run = run_riskops(rows[::4] if quick else rows, entries, list_name)
        at = quality(rows[::4] if quick else rows, run.scores, run.threshold)
        results.append(
            at_least("screening", f"{list_name}: names/s", run.names_per_second, "names/s", 1_000)
        )
        results.append(at_least("screening", f"{list_name}: recall", at.recall, "", 0.98))
        results.append(at_least("screening", f"{list_name}: precision", at.precision, "", 0.97))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-peers", action="store_true", help="riskops only")
    parser.add_argument(
        "--seed", type=int, default=SEED, help="another seed draws a held-out variation set"
    )
    args = parser.parse_args()
    rows, runs = compare(peers=not args.no_peers, seed=args.seed)
    report = table(rows, runs)
    report += "\n\n" + by_variation(rows, runs)
    print(report)
    suffix = "" if args.seed == SEED else f"-seed{args.seed}"
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"screening{suffix}.md").write_text(report + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
