"""Mutation testing of the critical modules (``make mutation``), outside the regular suite.

    python -m bench.mutation                    # every module below
    python -m bench.mutation signatures windows # some of them
    python -m bench.mutation --list

mutmut plants one small bug at a time (a ``<=`` turned into ``<``, a constant changed, a
call dropped) and runs the tests that reach the mutated function; a mutant that no test
fails on *survived*, and shows a check that nothing holds in place. Each module is run
with only the tests that are about it, so a run finishes on a busy two-core machine.

mutmut mutates a copy of the tree it is started in, so each module runs in its own copy
under ``bench/out/mutation/<name>`` (``src``, ``tests`` and a ``pyproject.toml`` with the
module's ``[tool.mutmut]`` section): the working tree is never touched. The kill rate is
killed / (killed + survived); mutants that no test reaches count as survived. The table
printed at the end is what docs/benchmarks.md records.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from mutmut.stats import status_by_exit_code

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "mutation"


class Target(NamedTuple):
    """One module to mutate, the tests about it, and (optionally) the only functions
    whose mutants count (a module that holds more than the critical check)."""

    source: str
    tests: tuple[str, ...]
    functions: tuple[str, ...] = ()
    pytest_args: tuple[str, ...] = ()  # e.g. SQLite only, where a run would take hours


TARGETS: dict[str, Target] = {
    "signatures": Target(
        "src/riskops/intake/sms.py",
        ("tests/intake/test_sms_signals.py",),
        ("sign", "verify_signature"),
    ),
    "windows": Target(
        "src/riskops/rules/features.py",
        ("tests/rules/test_features.py", "tests/rules/test_window_boundaries.py"),
    ),
    "four-eyes": Target(
        "src/riskops/cases/decisions.py",
        ("tests/cases/test_cases_decisions.py", "tests/cases/test_cases_four_eyes.py"),
        ("needs_approval", "restriction_kinds", "approve", "refuse", "_pending"),
        # Each survivor reruns every test of both files: on SQLite only, or the run takes
        # hours on two cores (the same checks run on PostgreSQL in `make test`).
        ("-k", "not postgres"),
    ),
    "ingestion": Target(
        "src/riskops/events/repository.py",
        ("tests/events/test_ingest_service.py", "tests/events/test_dead_letters.py"),
        ("insert_events", "_insert_sqlite", "_insert_postgresql", "stored_payloads"),
    ),
    "take-next": Target(
        "src/riskops/cases/service.py",
        ("tests/cases/test_cases_service.py",),
        ("take_next", "_claim_next", "_shift_queues"),
    ),
    "restrictions-block": Target(
        "src/riskops/monitor/engine.py",
        (
            "tests/monitor/test_engine.py",
            "tests/monitor/test_engine_rows.py",
            "tests/monitor/test_restriction_matrix.py",
        ),
    ),
    "parity": Target(
        "src/riskops/rules/parity.py",
        ("tests/rules/test_parity.py", "tests/rules/test_pack_parity.py"),
    ),
}


def _workdir(name: str, target: Target) -> Path:
    """A fresh copy of src and tests with a pyproject.toml whose [tool.mutmut] is this run's."""
    work = OUT / name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis")
    shutil.copytree(ROOT / "src", work / "src", ignore=ignore)
    shutil.copytree(ROOT / "tests", work / "tests", ignore=ignore)
    tests = [t for t in target.tests if (ROOT / t).exists()]
    if not tests:
        raise SystemExit(f"{name}: none of its tests exist: {', '.join(target.tests)}")
    config = {
        "source_paths": ["src"],
        "only_mutate": [target.source],
        "pytest_add_cli_args_test_selection": tests,
        # One process per mutant already; xdist and the cache would only get in the way.
        "pytest_add_cli_args": [
            *("-p", "no:xdist", "-p", "no:cacheprovider", "-x", "-q"),
            *target.pytest_args,
        ],
        "use_git_change_detection": False,
    }
    section = "\n[tool.mutmut]\n" + "".join(
        f"{key} = {json.dumps(value)}\n" for key, value in config.items()
    )
    (work / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text() + section)
    return work


def _outcomes(work: Path, target: Target) -> Counter[str]:
    """Each counted mutant's outcome, read from mutmut's ``.meta`` files."""
    counts: Counter[str] = Counter()
    for meta in (work / "mutants").rglob("*.py.meta"):
        data = json.loads(meta.read_text())
        for mutant, code in data.get("exit_code_by_key", {}).items():
            function = mutant.rsplit("__mutmut_", 1)[0].rsplit(".", 1)[-1]
            function = function.removeprefix("x_").split("ǁ")[-1]
            if code is None or (target.functions and function not in target.functions):
                continue  # not run: another function's mutant
            counts[status_by_exit_code[code]] += 1
    return counts


def _survivors(work: Path, python: str) -> list[str]:
    listing = subprocess.run(
        [python, "-m", "mutmut", "results"], cwd=work, capture_output=True, text=True
    )
    return [line.strip() for line in listing.stdout.splitlines() if line.strip()]


def _commit(source: str) -> str:
    """HEAD, with ``+wip`` when the mutated module has changes not committed yet."""

    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)

    head = git("rev-parse", "--short", "HEAD").stdout.strip()
    return head if git("diff", "--quiet", "HEAD", "--", source).returncode == 0 else head + "+wip"


def run(name: str, target: Target, children: int) -> dict[str, object]:
    """Mutate one module and return its row of the record."""
    commit = _commit(target.source)  # of the tree as copied, before the run
    work = _workdir(name, target)
    python = sys.executable
    module = target.source.removeprefix("src/").removesuffix(".py").replace("/", ".")
    # Only the named functions' mutants are run (mutmut takes name patterns).
    names = [f"{module}.x_{function}__mutmut_*" for function in target.functions]
    with (work / "mutmut.log").open("wb") as log:
        subprocess.run(
            [python, "-m", "mutmut", "run", "--max-children", str(children), *names],
            cwd=work,
            check=False,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    counts = _outcomes(work, target)
    killed, survived = counts["killed"] + counts["timeout"], counts["survived"]
    survived += counts["no tests"]
    total = sum(counts.values())
    survivors = _survivors(work, python)
    (work / "survivors.txt").write_text("\n".join(survivors) + "\n")
    return {
        "module": name,
        "source": target.source,
        "mutants": total,
        "killed": killed,
        "survived": survived,
        "kill_rate": killed / (killed + survived) if killed + survived else 0.0,
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "commit": commit,
        "other": {k: v for k, v in counts.items() if k not in ("killed", "survived")},
    }


def main(argv: list[str] | None = None) -> int:
    """Run the named modules (all by default); print the table docs/benchmarks.md keeps."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help=f"of: {', '.join(TARGETS)} (default: all)")
    parser.add_argument("--list", action="store_true", help="list the modules and exit")
    parser.add_argument("--children", type=int, default=2, help="mutants run in parallel")
    args = parser.parse_args(argv)
    unknown = [m for m in args.modules if m not in TARGETS]
    if unknown:
        parser.error(f"unknown module(s) {', '.join(unknown)}; --list shows them")
    if args.list:
        for name, target in TARGETS.items():
            print(f"{name:20} {target.source}  ({', '.join(target.tests)})")
        return 0
    rows = [run(name, TARGETS[name], args.children) for name in args.modules or TARGETS]
    (OUT / "results.json").write_text(json.dumps(rows, indent=2))
    print("\n| module | source | mutants | killed | survived | kill rate | date | commit |")
    print("| --- | --- | ---: | ---: | ---: | ---: | --- | --- |")
    for r in rows:
        print(
            f"| {r['module']} | `{r['source']}` | {r['mutants']} | {r['killed']} | "
            f"{r['survived']} | {r['kill_rate']:.0%} | {r['date']} | {r['commit']} |"
        )
    print(f"\nSurvivors of each module: {OUT}/<module>/survivors.txt")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
