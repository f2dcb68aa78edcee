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
module's ``[tool.mutmut]`` section): the working tree is never touched. A module is one or
more scopes: a source file and the functions of it that make the critical check (all of
the file when none are named). Only those functions' mutants are run and counted.

The kill rate is killed / (killed + survived - equivalent); mutants that no test reaches
count as survived. An *equivalent* mutant changes nothing observable: each is named in
``EQUIVALENT`` with the reason (docs/benchmarks.md lists them). A name holds only for the
source it was read on (mutmut numbers mutants in source order), so a changed source makes
its listed survivors count as survived again until someone reads them anew. The table
printed at the end is what docs/benchmarks.md records.
"""

from __future__ import annotations

import argparse
import ast
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


class Scope(NamedTuple):
    """A source file and the functions of it to mutate (``Class.method`` for a method);
    none named: every function of the file."""

    source: str
    functions: tuple[str, ...] = ()

    @property
    def module(self) -> str:
        return self.source.removeprefix("src/").removesuffix(".py").replace("/", ".")

    def mangled(self) -> set[str]:
        """The functions as mutmut names them (``x_f``, ``xǁClassǁmethod``)."""
        return {"xǁ" + f.replace(".", "ǁ") if "." in f else "x_" + f for f in self.functions}

    def holds(self, mutant: str) -> bool:
        """Whether a mutant (``module.mangled__mutmut_N``) is one of this scope's."""
        module, _, function = mutant.rsplit("__mutmut_", 1)[0].rpartition(".")
        return module == self.module and (not self.functions or function in self.mangled())

    def describe(self) -> str:
        names = f" ({', '.join(f'`{f}`' for f in self.functions)})" if self.functions else " (all)"
        return f"`{self.source}`{names}"


class Target(NamedTuple):
    """One critical module: what to mutate, the tests about it, extra pytest arguments."""

    scopes: tuple[Scope, ...]
    tests: tuple[str, ...]
    pytest_args: tuple[str, ...] = ()  # e.g. SQLite only, where a run would take hours

    def holds(self, mutant: str) -> bool:
        return any(scope.holds(mutant) for scope in self.scopes)


TARGETS: dict[str, Target] = {
    "signatures": Target(
        (Scope("src/riskops/intake/sms.py", ("sign", "verify_signature")),),
        ("tests/intake/test_sms_signals.py",),
    ),
    "windows": Target(
        (Scope("src/riskops/rules/features.py"),),  # every window kind and first_seen
        ("tests/rules/test_features.py", "tests/rules/test_window_boundaries.py"),
    ),
    "four-eyes": Target(
        (
            Scope(
                "src/riskops/cases/decisions.py",
                ("needs_approval", "restriction_kinds", "approve", "refuse", "_pending"),
            ),
        ),
        (
            "tests/cases/test_cases_decisions.py",
            "tests/cases/test_cases_four_eyes.py",
            "tests/cases/test_cases_four_eyes_mutants.py",
            "tests/cases/test_cases_holds.py",  # the maker's hold choices on approval
        ),
        # Each survivor reruns every test of both files: on SQLite only, or the run takes
        # hours on two cores (the same checks run on PostgreSQL in `make test`).
        ("-k", "not postgres"),
    ),
    "four-eyes-accounts": Target(
        (
            Scope(
                "src/riskops/accounts/service.py",
                (
                    "action_kind",
                    "needs_second_person",
                    "restrict",
                    "approve",
                    "refuse",
                    "_second_person",
                    "_pending",
                ),
            ),
            Scope("src/riskops/auth/permissions.py", ("require_second_person",)),
        ),
        ("tests/accounts/test_controls.py", "tests/accounts/test_controls_mutants.py"),
        ("-k", "not postgres"),
    ),
    "ingestion": Target(
        (
            Scope(
                "src/riskops/events/repository.py",
                (
                    "insert_events",
                    "_insert_sqlite",
                    "_insert_postgresql",
                    "stored_payloads",
                    "_dead_letter_row",
                    "insert_dead_letters",
                ),
            ),
            Scope("src/riskops/events/service.py", ("store", "Prepared.settle", "prepare")),
        ),
        (
            "tests/events/test_ingest_service.py",
            "tests/events/test_ingest_idempotent_mutants.py",
            "tests/events/test_dead_letters.py",
            # PostgreSQL: an append behind a stuck holder of the log lock gives up (Busy).
            "tests/events/test_event_log_lock.py::test_an_append_behind_a_stuck_holder_gives_up_with_busy",
        ),
    ),
    "take-next": Target(
        (
            Scope("src/riskops/cases/service.py", ("take_next", "_claim_next", "_shift_queues")),
            # Not _take_next_statement and its _shift_scope (PostgreSQL's one statement):
            # built once and cached, so mutmut's forked runs reuse the unmutated statement.
            # The tests below run that statement on PostgreSQL all the same.
            Scope(
                "src/riskops/cases/repository.py",
                (
                    "_queue_order",
                    "_next_new",
                    "next_new_ids",
                    "claim",
                    "take_next_postgres",
                    "shift_queue_keys",
                ),
            ),
        ),
        ("tests/cases/test_cases_service.py", "tests/cases/test_cases_take_next_mutants.py"),
        # The queue overview counts queues (not take-next's) and is read by other work.
        ("-k", "not queue_overview"),
    ),
    "restrictions-block": Target(
        (Scope("src/riskops/monitor/engine.py"),),
        (
            "tests/monitor/test_engine.py",
            "tests/monitor/test_engine_rows.py",
            "tests/monitor/test_restriction_matrix.py",
        ),
    ),
    "parity": Target(
        (
            Scope("src/riskops/rules/parity.py"),  # the check that the engines agree
            # The SQL side of the windows (the stream side is `windows`).
            Scope(
                "src/riskops/rules/sql_features.py",
                ("rows_sql", "FeaturePlan._expressions", "FeaturePlan._group_sql", "_ranks_sql"),
            ),
        ),
        (
            "tests/rules/test_parity.py",
            "tests/rules/test_parity_mutants.py",
            # Both engines against the spec and each other on every window boundary. The
            # property tests (tests/rules/test_properties.py) take ~30 s a survivor.
            "tests/rules/test_window_boundaries.py",
        ),
    ),
}

# Survivors that change nothing observable, by mutant name, with the reason. Read on the
# commit the docs/benchmarks.md table names for the module.
_NOTE_DECISION = (
    "the note's decision section is never missing: decide refuses a note with any of the "
    "five sections blank, so the default of .get('decision', ...) is never read"
)
EQUIVALENT: dict[str, str] = {
    # four-eyes, read on e18c8fd
    "riskops.cases.decisions.x_approve__mutmut_57": _NOTE_DECISION,
    "riskops.cases.decisions.x_approve__mutmut_59": _NOTE_DECISION,
    "riskops.cases.decisions.x_approve__mutmut_62": _NOTE_DECISION,
    "riskops.cases.decisions.x_approve__mutmut_96": (
        "_execute never reads its decision argument (the text goes to the account and the "
        "holds through _on_account and _resolve_holds)"
    ),
    # ingestion
    **dict.fromkeys(
        [
            f"riskops.events.repository.x__insert_sqlite__mutmut_{n}"
            for n in (1, 2, 3, 4, 9, 10, 11, 12)
        ],
        "the 64 MiB page cache (PRAGMA cache_size, once per connection) is speed only: the "
        "mutant sets it on every call, or never; what is stored and reported is the same",
    ),
    **dict.fromkeys(
        [f"riskops.events.repository.x__insert_sqlite__mutmut_{n}" for n in (7, 8)],
        "SQLite's PRAGMA names are case-insensitive",
    ),
    **dict.fromkeys(
        [f"riskops.events.repository.x__insert_postgresql__mutmut_{n}" for n in (36, 37)],
        "PostgreSQL's SQL keywords and unquoted names are case-insensitive",
    ),
    **dict.fromkeys(
        [f"riskops.events.service.x_prepare__mutmut_{n}" for n in (14, 15, 16)],
        "every item then takes Prepared.take, the same layout written as a method call "
        "(prepare inlines it for speed): the same rows, firsts and later ids",
    ),
    "riskops.events.service.x_store__mutmut_31": (
        "stored_payloads of no ids returns {} without a query: the same as skipping the call"
    ),
    "riskops.events.repository.x_stored_payloads__mutmut_10": (
        "range(0, n) instead of range(0, n, 2000): overlapping lookups of up to 2,000 ids from "
        "every position, one query per id; the same payloads are found (only slower)"
    ),
    # parity
    **dict.fromkeys(
        [f"riskops.rules.parity.x_parity_check__mutmut_{n}" for n in (67, 71, 76)],
        "the outer zip of rows and SQL feature rows without strict: the compiled SQL returns "
        "one row per flat row (base is unique on seq and row), so the lengths never differ",
    ),
    "riskops.rules.sql_features.xǁFeaturePlanǁ_expressions__mutmut_14": (
        "a feature's where reads fields only (the parser refuses features there), so the "
        "feature-name map handed to cond_sql is never read"
    ),
    "riskops.rules.sql_features.xǁFeaturePlanǁ_expressions__mutmut_28": (
        "the column text of a feature without a field is never read: count is count(*), "
        "and every kind that reads col has a field"
    ),
    "riskops.rules.sql_features.xǁFeaturePlanǁ_expressions__mutmut_70": (
        "DuckDB's SQL keywords are case-insensitive"
    ),
    **dict.fromkeys(
        [
            f"riskops.rules.sql_features.xǁFeaturePlanǁ_expressions__mutmut_{n}"
            for n in (79, 87, 96)
        ],
        'DuckDB matches identifiers case-insensitively, quoted or not ("TYPE" is type)',
    ),
    **dict.fromkeys(
        [
            "riskops.rules.sql_features.xǁFeaturePlanǁ_expressions__mutmut_115",
            "riskops.rules.sql_features.xǁFeaturePlanǁ_group_sql__mutmut_22",
        ],
        "DuckDB matches identifiers and CTE names case-insensitively",
    ),
    **dict.fromkeys(
        [
            "riskops.rules.sql_features.xǁFeaturePlanǁ_group_sql__mutmut_9",
            "riskops.rules.sql_features.xǁFeaturePlanǁ_group_sql__mutmut_27",
        ],
        "a group's pruning (the rows that enter its windows, the rows it keeps after them) "
        "dropped: every window expression filters by its feature's own where and type, and "
        "each evaluation joins only its own rows, so the values read are the same (only "
        "more rows are computed)",
    ),
    **dict.fromkeys(
        [f"riskops.rules.parity.x_run_sql__mutmut_{n}" for n in (4, 5, 11)],
        "DuckDB's statements, settings and view names are case-insensitive",
    ),
    **dict.fromkeys(
        [f"riskops.rules.sql_features.xǁFeaturePlanǁ_group_sql__mutmut_{n}" for n in (29, 30, 32)],
        "the filter kept after a group's windows dropped (keep None reads as a subquery "
        "alias): as with mutant 27, each evaluation joins only its own rows",
    ),
    **dict.fromkeys(
        [f"riskops.rules.sql_features.xǁFeaturePlanǁ_group_sql__mutmut_{n}" for n in (31, 33)],
        "readers is never None: every reader of a feature is a rule's `when`, a set of types",
    ),
    "riskops.rules.sql_features.x_rows_sql__mutmut_16": (
        "the pruning filter without the readers' row conditions admits more rows of the "
        "readers' types into a feature's windows: each window expression applies the "
        "feature's own where, and the evaluation keeps its own rows, so every value and hit "
        "is the same (only more rows are computed)"
    ),
    "riskops.rules.sql_features.x_rows_sql__mutmut_32": (
        "the alternatives of the pruning filter in input order instead of sorted: OR is "
        "commutative (two features whose filters differ only in order get two groups, "
        "with the same values)"
    ),
    **dict.fromkeys(
        [f"riskops.rules.sql_features.x_rows_sql__mutmut_{n}" for n in (47, 50)],
        "DuckDB's AND and OR are case-insensitive",
    ),
    # take-next, read on fddfc4f
    **dict.fromkeys(
        [f"riskops.cases.repository.x_claim__mutmut_{n}" for n in (27, 30, 33)],
        "the default of getattr(result, 'rowcount', ...) is never read: an UPDATE's result "
        "always has a rowcount",
    ),
    "riskops.cases.repository.x_claim__mutmut_3": (
        "synchronize_session=None is no synchronisation, as False is (SQLAlchemy only acts "
        "on 'auto', 'evaluate' and 'fetch'); take_next reads the claimed case again anyway"
    ),
    **dict.fromkeys(
        [f"riskops.cases.service.x__claim_next__mutmut_{n}" for n in (21, 24)],
        "only the length of the pause between two lost rounds (1 ms per round) changes: "
        "what is tried, taken, and when it gives up are the same",
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
    _write_config(work, name, target)
    return work


def _write_config(work: Path, name: str, target: Target) -> None:
    """The copy's pyproject.toml: the project's, with this module's [tool.mutmut]."""
    tests = [t for t in target.tests if (ROOT / t.partition("::")[0]).exists()]
    if not tests:
        raise SystemExit(f"{name}: none of its tests exist: {', '.join(target.tests)}")
    config = {
        "source_paths": ["src"],
        "only_mutate": [scope.source for scope in target.scopes],
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


def _patterns(target: Target) -> list[str]:
    """mutmut name patterns of the mutants to run: the scopes' functions (or all)."""
    patterns: list[str] = []
    for scope in target.scopes:
        names = sorted(scope.mangled()) or ["x*"]
        patterns += [f"{scope.module}.{name}__mutmut_*" for name in names]
    return patterns


def _outcomes(work: Path, target: Target) -> dict[str, str]:
    """Each counted mutant's outcome, read from mutmut's ``.meta`` files."""
    outcomes: dict[str, str] = {}
    for meta in (work / "mutants").rglob("*.py.meta"):
        data = json.loads(meta.read_text())
        for mutant, code in data.get("exit_code_by_key", {}).items():
            if code is not None and target.holds(mutant):  # else not run: out of scope
                outcomes[mutant] = status_by_exit_code[code]
    return outcomes


def _commit(sources: list[str]) -> str:
    """HEAD, with ``+wip`` when a mutated file has changes not committed yet."""

    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)

    head = git("rev-parse", "--short", "HEAD").stdout.strip()
    clean = git("diff", "--quiet", "HEAD", "--", *sources).returncode == 0
    return head if clean else head + "+wip"


def run(name: str, target: Target, children: int) -> dict[str, object]:
    """Mutate one module and return its row of the record."""
    commit = _commit([scope.source for scope in target.scopes])  # the tree as copied
    work = _workdir(name, target)
    python = sys.executable
    with (work / "mutmut.log").open("wb") as log:
        subprocess.run(
            [python, "-m", "mutmut", "run", "--max-children", str(children), *_patterns(target)],
            cwd=work,
            check=False,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return tally(name, target, datetime.now(UTC).strftime("%Y-%m-%d"), commit)


def rerun_survivors(
    name: str, target: Target, children: int, *, force: bool = False
) -> dict[str, object]:
    """Run again only the survivors of the module's last run, against the tests as they are
    now (copied afresh); the mutated sources must be the ones that run copied."""
    work = OUT / name
    last = json.loads((OUT / f"{name}.json").read_text())
    if _changed_since(work, target) and not force:
        raise SystemExit(f"{name}: its mutated functions changed since the run; run it anew")
    survivors = (work / "survivors.txt").read_text().split()
    if survivors:
        shutil.rmtree(work / "tests")
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis")
        shutil.copytree(ROOT / "tests", work / "tests", ignore=ignore)
        shutil.rmtree(work / "mutants" / "tests", ignore_errors=True)  # mutmut's own copy
        _write_config(work, name, target)  # today's test selection
        with (work / "mutmut.log").open("ab") as log:
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "mutmut",
                    "run",
                    "--max-children",
                    str(children),
                    *survivors,
                ],
                cwd=work,
                check=False,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
    return tally(name, target, last["date"], last["commit"])


def _changed_since(work: Path, target: Target) -> bool:
    """Whether a scope's functions (or whole file) differ from the copy the run mutated."""
    for scope in target.scopes:
        then = (work / scope.source).read_text()
        now = (ROOT / scope.source).read_text()
        if _functions(then, scope) != _functions(now, scope):
            return True
    return False


def _functions(source: str, scope: Scope) -> dict[str, str]:
    """The source of a scope's functions (``Class.method`` for methods), or of the file."""
    if not scope.functions:
        return {"": source}
    tree = ast.parse(source)
    found: dict[str, str] = {}
    for node in tree.body:
        members = node.body if isinstance(node, ast.ClassDef) else [node]
        prefix = f"{node.name}." if isinstance(node, ast.ClassDef) else ""
        for item in members:
            if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                name = prefix + item.name
                if name in scope.functions:
                    found[name] = ast.get_source_segment(source, item) or ""
    return found


def tally(name: str, target: Target, date: str, commit: str) -> dict[str, object]:
    """A module's row from the outcomes its last run left in its folder (``--tally``
    counts them again after ``EQUIVALENT`` has been read and completed)."""
    work = OUT / name
    outcomes = _outcomes(work, target)
    counts = Counter(outcomes.values())
    killed = counts["killed"] + counts["timeout"]
    alive = sorted(m for m, s in outcomes.items() if s in ("survived", "no tests"))
    equivalent = [m for m in alive if m in EQUIVALENT]
    survivors = [m for m in alive if m not in EQUIVALENT]
    (work / "survivors.txt").write_text("".join(f"{m}\n" for m in survivors))
    counted = killed + len(survivors)
    row = {
        "module": name,
        "scope": "; ".join(scope.describe() for scope in target.scopes),
        "mutants": len(outcomes),
        "killed": killed,
        "equivalent": len(equivalent),
        "survived": len(survivors),
        "kill_rate": killed / counted if counted else 0.0,
        "date": date,
        "commit": commit,
        "other": {k: v for k, v in counts.items() if k not in ("killed", "survived")},
    }
    (OUT / f"{name}.json").write_text(json.dumps(row, indent=2))
    return row


def main(argv: list[str] | None = None) -> int:
    """Run the named modules (all by default); print the table docs/benchmarks.md keeps."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help=f"of: {', '.join(TARGETS)} (default: all)")
    parser.add_argument("--list", action="store_true", help="list the modules and exit")
    parser.add_argument("--children", type=int, default=1, help="mutants run in parallel")
    parser.add_argument(
        "--survivors",
        action="store_true",
        help="run the last run's survivors again against the tests as they are now",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="with --survivors: run them although the functions changed since (the row "
        "stays the run's commit: it measures the source the run copied)",
    )
    parser.add_argument(
        "--tally", action="store_true", help="count the last run's outcomes again, run nothing"
    )
    args = parser.parse_args(argv)
    unknown = [m for m in args.modules if m not in TARGETS]
    if unknown:
        parser.error(f"unknown module(s) {', '.join(unknown)}; --list shows them")
    if args.list:
        for name, target in TARGETS.items():
            scopes = "; ".join(scope.describe() for scope in target.scopes)
            print(f"{name:20} {scopes}  ({', '.join(target.tests)})")
        return 0
    rows = []
    for name in args.modules or TARGETS:
        if args.survivors:
            rows.append(rerun_survivors(name, TARGETS[name], args.children, force=args.force))
        elif args.tally:
            last = json.loads((OUT / f"{name}.json").read_text())
            rows.append(tally(name, TARGETS[name], last["date"], last["commit"]))
        else:
            rows.append(run(name, TARGETS[name], args.children))
    print(
        "\n| module | source scope | mutants | killed | equivalent | survived | kill rate |", end=""
    )
    print(" date | commit |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |")
    for r in rows:
        print(
            f"| {r['module']} | {r['scope']} | {r['mutants']} | {r['killed']} | "
            f"{r['equivalent']} | {r['survived']} | {r['kill_rate']:.0%} | {r['date']} | "
            f"{r['commit']} |"
        )
    print(f"\nSurvivors of each module: {OUT}/<module>/survivors.txt")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
