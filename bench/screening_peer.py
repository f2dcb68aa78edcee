"""nomenklatura logic-v2 on the screening variation set; run by bench_screening.py with the
Python of bench/out/peers-venv (nomenklatura needs duckdb<2, riskops pins duckdb 2).

    peers-venv/bin/python bench/screening_peer.py ENTRIES.jsonl QUERIES.jsonl OUT.json

It imports nothing from riskops. Candidates come from a prefilter, as yente gets them from
its search index: the 30 best names by rapidfuzz WRatio over the whole list (both sides
transliterated to ASCII by normality, as FollowTheMoney does, then rapidfuzz's default
processing), then LogicV2.compare scores each candidate entity with the
default configuration. OUT.json has the score of every candidate, and names/s of CPU time
for prefilter plus scoring, after the models and data are loaded.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from followthemoney import model
from nomenklatura.matching import LogicV2
from normality import ascii_text
from rapidfuzz import fuzz, process, utils

SCHEMAS = {"person": "Person", "organization": "Organization", "vessel": "Vessel"}
CANDIDATES = 30


def prefilter_key(name: str) -> str:
    """The name as the prefilter compares it: transliterated to ASCII as FollowTheMoney does
    (normality, with ICU), then rapidfuzz's default processing."""
    return str(utils.default_process(ascii_text(name) or ""))


def entity(record: dict[str, Any], names: list[str], schema: str) -> Any:
    proxy = model.make_entity(schema)
    proxy.id = record["id"]
    for name in names:
        proxy.add("name", name)
    if schema == "Person":
        for date in record.get("birth_dates") or (
            [record["birth_date"]] if record.get("birth_date") else []
        ):
            proxy.add("birthDate", date)
    countries = record.get("countries") or ([record["country"]] if record.get("country") else [])
    for country in countries:
        proxy.add("country", country.lower())
    return proxy


def main() -> None:
    entries_path, queries_path, out_path = (Path(arg) for arg in sys.argv[1:4])
    entries = [json.loads(line) for line in entries_path.read_text(encoding="utf-8").splitlines()]
    queries = [json.loads(line) for line in queries_path.read_text(encoding="utf-8").splitlines()]
    proxies = {
        e["id"]: entity(e, e["names"], SCHEMAS.get(e["kind"], "LegalEntity")) for e in entries
    }
    choices: list[str] = []
    owners: list[str] = []
    for e in entries:
        for name in e["names"]:
            choices.append(prefilter_key(name))
            owners.append(e["id"])
    config = LogicV2.default_config()
    # The first comparison loads rigour's data; it is not part of the measured time.
    warm = next(iter(proxies.values()))
    LogicV2.compare(warm, warm, config)
    scores: dict[str, dict[str, float]] = {}
    started, wall = time.process_time(), time.perf_counter()
    for query in queries:
        proxy = entity(query, [query["name"]], SCHEMAS.get(query["kind"], "LegalEntity"))
        found = process.extract(
            prefilter_key(query["name"]), choices, scorer=fuzz.WRatio, limit=CANDIDATES
        )
        candidate_ids = list(dict.fromkeys(owners[index] for _, _, index in found))
        result: dict[str, float] = {}
        for candidate in candidate_ids:
            result[candidate] = float(LogicV2.compare(proxy, proxies[candidate], config).score)
        scores[query["id"]] = result
    elapsed, wall = time.process_time() - started, time.perf_counter() - wall
    result = {
        "scores": scores,
        "names_per_second": len(queries) / elapsed,
        "wall_names_per_second": len(queries) / wall,
    }
    out_path.write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    main()
