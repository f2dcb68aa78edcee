"""Writing a simulation to disk: events (NDJSON and/or Parquet), labels, lists, manifest.

Layout of ``out_dir``::

    events.ndjson            one wire-format event per line (``fmt`` ndjson or both)
    events.parquet           the event layout of riskops.events.tabular (parquet or both)
    labels_events.csv        event_id, typology, scenario_id
    labels_accounts.csv      account_id, typology, scenario_id, role
    lists/{sanctioned,darknet,mixer}_addresses.txt
    manifest.json            parameters, counts and the generator version

Every file is a pure function of the config, so the same seed gives byte-identical files.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from riskops.sim.generator import GENERATOR_VERSION, SimConfig, Simulation

FORMATS = ("ndjson", "parquet", "both")
_CHUNK = 65_536  # events per Parquet row group, and per buffered NDJSON write


class Label(str):
    """A typology name (compares equal to it) that also carries its scenario id and role.

    Label maps read as ``{event_id: typology}``, yet scorers that need the scenario
    (scenario recall) read ``label.scenario_id`` without a second lookup.
    """

    scenario_id: str
    role: str

    def __new__(cls, typology: str, scenario_id: str, role: str = "") -> Label:
        label = super().__new__(cls, typology)
        label.scenario_id = scenario_id
        label.role = role
        return label

    @property
    def typology(self) -> str:
        return str(self)


@dataclass(slots=True)
class SimResult:
    """What a run wrote, with counts for the summary."""

    out_dir: Path
    paths: dict[str, Path]
    counts: dict[str, int]
    events: int
    event_labels: dict[str, Label]
    account_labels: dict[str, Label]
    scenarios: dict[str, int] = field(default_factory=dict)


def simulate(
    config: SimConfig,
    out_dir: Path | str,
    fmt: str = "ndjson",
    progress: Callable[[int], None] | None = None,
) -> SimResult:
    """Generate and write one simulation; ``progress`` is called with events written so far."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    out = Path(out_dir)
    (out / "lists").mkdir(parents=True, exist_ok=True)
    sim = Simulation(config)
    paths: dict[str, Path] = {}
    ndjson = fmt in ("ndjson", "both")
    parquet = fmt in ("parquet", "both")
    counts: Counter[str] = Counter()
    total = 0
    nd_file = None
    pq_writer = None
    if ndjson:
        paths["events_ndjson"] = out / "events.ndjson"
        nd_file = open(paths["events_ndjson"], "wb")  # noqa: SIM115 - closed in finally
    if parquet:
        import pyarrow.parquet as pq

        from riskops.events.tabular import EVENT_SCHEMA

        paths["events_parquet"] = out / "events.parquet"
        pq_writer = pq.ParquetWriter(paths["events_parquet"], EVENT_SCHEMA, compression="zstd")
    try:
        # NDJSON is encoded at once into one buffer: orjson's result bytes carry spare
        # capacity, so keeping them in a list costs ~4 KB an event. Parquet needs the dicts
        # of a whole row group to build its columns.
        lines = bytearray()
        rows: list[dict[str, Any]] = []
        dumps = orjson.dumps
        for event in sim.events():
            counts[event["type"]] += 1
            total += 1
            if nd_file is not None:
                lines += dumps(event)
                lines += b"\n"
            if pq_writer is not None:
                rows.append(event)
            if total % _CHUNK == 0:
                _flush(lines, rows, nd_file, pq_writer)
                lines, rows = bytearray(), []
                if progress is not None:
                    progress(total)
        _flush(lines, rows, nd_file, pq_writer)
        if progress is not None:
            progress(total)
    finally:
        if nd_file is not None:
            nd_file.close()
        if pq_writer is not None:
            pq_writer.close()
    paths.update(_write_labels(sim, out))
    paths.update(_write_lists(sim, out))
    scenarios = Counter(sc.typology for sc in sim.scenarios)
    labelled = Counter(typology for _, typology, _ in sim.event_labels)
    manifest = {
        "generator_version": GENERATOR_VERSION,
        "seed": config.seed,
        "accounts": config.accounts,
        "days": config.days,
        "start": config.start.isoformat(),
        "format": fmt,
        "events": total,
        "events_by_type": dict(sorted(counts.items())),
        "scenarios_by_typology": dict(sorted(scenarios.items())),
        "labelled_events_by_typology": dict(sorted(labelled.items())),
        "labelled_accounts_by_typology": dict(
            sorted(Counter(t for _, t, _, _ in sim.account_labels()).items())
        ),
    }
    paths["manifest"] = out / "manifest.json"
    paths["manifest"].write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n")
    return SimResult(
        out_dir=out,
        paths=paths,
        counts=dict(counts),
        events=total,
        event_labels={e: Label(t, s) for e, t, s in sim.event_labels},
        account_labels={a: Label(t, s, r) for a, t, s, r in sim.account_labels()},
        scenarios=dict(scenarios),
    )


def _flush(lines: bytearray, rows: list[dict[str, Any]], nd_file: Any, pq_writer: Any) -> None:
    if lines:
        nd_file.write(lines)
    if rows:
        from riskops.events.tabular import wire_dicts_to_table

        pq_writer.write_table(wire_dicts_to_table(rows), row_group_size=_CHUNK)


def _write_labels(sim: Simulation, out: Path) -> dict[str, Path]:
    events_path = out / "labels_events.csv"
    with open(events_path, "w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(("event_id", "typology", "scenario_id"))
        writer.writerows(sim.event_labels)
    accounts_path = out / "labels_accounts.csv"
    with open(accounts_path, "w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(("account_id", "typology", "scenario_id", "role"))
        writer.writerows(sim.account_labels())
    return {"labels_events": events_path, "labels_accounts": accounts_path}


def _write_lists(sim: Simulation, out: Path) -> dict[str, Path]:
    paths = {}
    for category, addresses in sim.intel.lists().items():
        path = out / "lists" / f"{category}_addresses.txt"
        path.write_text("".join(f"{a}\n" for a in addresses))
        paths[f"list_{category}"] = path
    return paths


def load_event_labels(out_dir: Path | str) -> dict[str, Label]:
    """``{event_id: typology}`` (as :class:`Label`) from ``labels_events.csv``."""
    with open(Path(out_dir) / "labels_events.csv", newline="") as fh:
        return {r["event_id"]: Label(r["typology"], r["scenario_id"]) for r in csv.DictReader(fh)}


def load_account_labels(out_dir: Path | str) -> dict[str, Label]:
    """``{account_id: typology}`` (as :class:`Label`, with role) from ``labels_accounts.csv``."""
    with open(Path(out_dir) / "labels_accounts.csv", newline="") as fh:
        return {
            r["account_id"]: Label(r["typology"], r["scenario_id"], r["role"])
            for r in csv.DictReader(fh)
        }


def load_account_roles(out_dir: Path | str) -> list[dict[str, str]]:
    """Every row of ``labels_accounts.csv`` (account_id, typology, scenario_id, role)."""
    with open(Path(out_dir) / "labels_accounts.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def load_labels(out_dir: Path | str) -> tuple[dict[str, Label], dict[str, Label]]:
    """Event labels and account labels of a simulation directory."""
    return load_event_labels(out_dir), load_account_labels(out_dir)
