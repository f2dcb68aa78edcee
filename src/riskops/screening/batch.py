"""Batch screening of a CSV of names (``riskops screening batch``).

QUERIES.csv has a header with ``id`` and ``name`` and, optionally, ``birth_date``
(YYYY, YYYY-MM or YYYY-MM-DD), ``country`` (ISO-2 or a country name) and ``kind``
(person, organization, ...). MATCHES.csv gets one row per list entry at or above the
threshold: ``id,entry_id,score,matched_name,source,kind,reasons``. The output is written to
a side file and renamed into place, so a bad line never leaves half a result behind.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from riskops.kernel.errors import ValidationFailed
from riskops.screening.countries import country_code
from riskops.screening.lists import KINDS, Query
from riskops.screening.matcher import Screener

REQUIRED_COLUMNS = ("id", "name")
OPTIONAL_COLUMNS = ("birth_date", "country", "kind")
MATCH_COLUMNS = ("id", "entry_id", "score", "matched_name", "source", "kind", "reasons")
_DATE = re.compile(r"\d{4}(-\d{2}(-\d{2})?)?")
MAX_FIELD_CHARS = 10_000


class BatchInputError(ValidationFailed):
    """A QUERIES file that cannot be screened; the message names the file and the line."""

    code = "batch_input_error"

    def __init__(self, path: Path, where: str, problem: str) -> None:
        super().__init__(f"{path}: {where}: {problem}")


@dataclass(frozen=True, slots=True)
class BatchResult:
    queries: int
    matches: int
    matched_queries: int


def count_rows(path: Path) -> int:
    """Data lines in ``path`` (for a progress bar); 0 when it cannot be read."""
    try:
        with path.open("rb") as handle:
            return max(0, sum(1 for _ in handle) - 1)
    except OSError:
        return 0


def read_queries(path: Path) -> Iterator[tuple[str, Query]]:
    """(id, Query) for each row, checked; raises BatchInputError naming the line."""
    csv.field_size_limit(MAX_FIELD_CHARS * 4)
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as error:
        raise BatchInputError(path, "file", f"cannot be read ({error.strerror})") from error
    with handle:
        reader = csv.reader(handle, strict=True)
        try:
            header = [column.strip().casefold() for column in next(reader, [])]
            if not header:
                raise BatchInputError(path, "line 1", "empty file; a header `id,name` is needed")
            missing = [c for c in REQUIRED_COLUMNS if c not in header]
            if missing:
                raise BatchInputError(
                    path, "line 1", f"the header has no {', '.join(missing)} column"
                )
            position = {
                column: header.index(column)
                for column in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)
                if column in header
            }
            for row in reader:
                line = reader.line_num
                if not row or all(not cell.strip() for cell in row):
                    continue
                if len(row) != len(header):
                    raise BatchInputError(
                        path, f"line {line}", f"{len(row)} fields, the header has {len(header)}"
                    )
                yield _query(path, line, {c: row[i].strip() for c, i in position.items()})
        except csv.Error as error:
            raise BatchInputError(path, f"line {reader.line_num}", f"not CSV ({error})") from error
        except UnicodeDecodeError as error:
            raise BatchInputError(path, "file", "not UTF-8 text") from error


def _valid_date(text: str) -> bool:
    if not _DATE.fullmatch(text):
        return False
    year, month, day = [*text.split("-"), "01", "01"][:3]
    try:
        date(int(year), int(month), int(day))
    except ValueError:
        return False
    return True


def _query(path: Path, line: int, fields: dict[str, str]) -> tuple[str, Query]:
    where = f"line {line}"
    query_id = fields["id"]
    if not query_id:
        raise BatchInputError(path, where, "id is empty")
    birth_date = fields.get("birth_date") or None
    if birth_date is not None and not _valid_date(birth_date):
        raise BatchInputError(
            path,
            where,
            f"birth_date {birth_date[:40]!r} is not a date as YYYY, YYYY-MM or YYYY-MM-DD",
        )
    country_text = fields.get("country") or None
    country = country_code(country_text)
    if country_text is not None and country is None:
        raise BatchInputError(path, where, f"country {country_text[:40]!r} is not a known country")
    kind = fields.get("kind") or None
    if kind is not None and kind.casefold() not in KINDS:
        raise BatchInputError(path, where, f"kind {kind[:40]!r} is not one of {', '.join(KINDS)}")
    return query_id, Query(
        fields["name"], birth_date, country, kind.casefold() if kind is not None else None
    )


def run_batch(
    screener: Screener,
    queries: Path,
    out: Path,
    progress: Callable[[int], None] | None = None,
) -> BatchResult:
    """Screen every row of ``queries`` and write MATCHES.csv to ``out``."""
    partial = out.with_name(out.name + ".partial")
    total = matches = matched = 0
    try:
        with partial.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(MATCH_COLUMNS)
            for query_id, query in read_queries(queries):
                found = screener.screen(query)
                total += 1
                matched += bool(found)
                for match in found:
                    matches += 1
                    writer.writerow(
                        (
                            query_id,
                            match.entry.entry_id,
                            f"{match.score:.4f}",
                            match.matched_name,
                            match.entry.source,
                            match.entry.kind,
                            "; ".join(match.reasons),
                        )
                    )
                if progress is not None:
                    progress(1)
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return BatchResult(total, matches, matched)
