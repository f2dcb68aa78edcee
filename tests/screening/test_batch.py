"""``riskops screening batch``: QUERIES.csv in, MATCHES.csv out, clear errors for bad CSV."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from riskops.screening import cli
from riskops.screening.batch import BatchInputError, read_queries, run_batch
from riskops.screening.lists import ListEntry
from riskops.screening.matcher import Screener
from support import cli_app

UN = Path(__file__).resolve().parents[3] / "shared/data/sanctions/un-consolidated-2026-02.xml"

ENTITIES = [
    {
        "id": "os-1",
        "schema": "Person",
        "properties": {
            "name": ["Viktor Ivanovich Petrov"],
            "birthDate": ["1960-05-01"],
            "nationality": ["ru"],
        },
    },
    {"id": "os-2", "schema": "Company", "properties": {"name": ["Acme Trading Limited"]}},
]


@pytest.fixture
def riskops(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[typer.Typer]:
    with cli_app(cli.register, tmp_path / "data", monkeypatch) as app:
        yield app


@pytest.fixture
def ftm(tmp_path: Path) -> Path:
    path = tmp_path / "list.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in ENTITIES) + "\n", encoding="utf-8")
    return path


def _csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _invoke(app: typer.Typer, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["screening", *args])
    return result.exit_code, result.output


def test_batch_against_list_files(riskops: typer.Typer, ftm: Path, tmp_path: Path) -> None:
    queries = _csv(
        tmp_path / "q.csv",
        "id,name,birth_date,country\n"
        "c1,Viktor Petrov,1960-05-01,RU\n"
        'c2,"Petrov, Viktor I.",,\n'
        "c3,Jane Doe,,\n"
        "c4,ACME TRADING LTD,,GB\n"
        "c5,,,\n",
    )
    out = tmp_path / "m.csv"
    code, output = _invoke(riskops, "batch", str(queries), "--out", str(out), "--list", str(ftm))
    assert code == 0, output
    assert "5 names screened, 3 with a match, 3 rows written" in output
    rows = _rows(out)
    assert list(rows[0])[:4] == ["id", "entry_id", "score", "matched_name"]
    assert [(r["id"], r["entry_id"]) for r in rows] == [
        ("c1", "os-1"),
        ("c2", "os-1"),
        ("c4", "os-2"),
    ]
    assert all(0.8 <= float(r["score"]) <= 1.0 for r in rows)
    assert "birth date 1960-05-01 listed" in rows[0]["reasons"]


def test_batch_threshold_option(riskops: typer.Typer, ftm: Path, tmp_path: Path) -> None:
    queries = _csv(tmp_path / "q.csv", "id,name\nc1,Viktor Petrov\n")
    out = tmp_path / "m.csv"
    code, _ = _invoke(
        riskops, "batch", str(queries), "--out", str(out), "--list", str(ftm), "--threshold", "1"
    )
    assert code == 0 and _rows(out) == []


def test_batch_against_the_current_list_in_the_database(
    riskops: typer.Typer, ftm: Path, tmp_path: Path
) -> None:
    queries = _csv(tmp_path / "q.csv", "id,name\nc1,Viktor Petrov\n")
    out = tmp_path / "m.csv"
    code, output = _invoke(riskops, "batch", str(queries), "--out", str(out))
    assert code == 1 and "no list is loaded" in output
    code, output = _invoke(riskops, "load", "--source", "ftm", str(ftm))
    assert code == 0, output
    code, output = _invoke(riskops, "batch", str(queries), "--out", str(out))
    assert code == 0, output
    assert [r["entry_id"] for r in _rows(out)] == ["os-1"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "line 1: empty file"),
        ("id,nom\n1,x\n", "line 1: the header has no name column"),
        ("id,name\n1,a,b\n", "line 2: 3 fields, the header has 2"),
        ("id,name\n,Jane\n", "line 2: id is empty"),
        ("id,name,birth_date\n1,Jane,12/03/1960\n", "line 2: birth_date '12/03/1960' is not"),
        ("id,name,country\n1,Jane,Atlantis\n", "line 2: country 'Atlantis' is not a known"),
        ("id,name,kind\n1,Jane,robot\n", "line 2: kind 'robot' is not one of"),
        ('id,name\n1,"Jane\n', "not CSV"),
    ],
)
def test_bad_queries_fail_with_the_line_and_leave_no_output(
    riskops: typer.Typer, ftm: Path, tmp_path: Path, text: str, problem: str
) -> None:
    queries = _csv(tmp_path / "q.csv", "\n".join(["x"] * 0) + text)
    out = tmp_path / "m.csv"
    code, output = _invoke(riskops, "batch", str(queries), "--out", str(out), "--list", str(ftm))
    assert code == 1
    assert problem in " ".join(output.split())
    assert not out.exists() and not (tmp_path / "m.csv.partial").exists()


def test_bad_list_and_missing_queries_are_clear(
    riskops: typer.Typer, ftm: Path, tmp_path: Path
) -> None:
    queries = _csv(tmp_path / "q.csv", "id,name\n1,x\n")
    bad = _csv(tmp_path / "bad.jsonl", "{oops\n")
    code, output = _invoke(riskops, "batch", str(queries), "--out", "m.csv", "--list", str(bad))
    assert code == 1 and "line 1: not JSON" in " ".join(output.split())
    code, output = _invoke(riskops, "batch", str(tmp_path / "none.csv"), "--out", "m.csv")
    assert code == 1 and "no such file" in " ".join(output.split())
    code, output = _invoke(
        riskops, "batch", str(queries), "--out", "m.csv", "--list", str(ftm), "--list-source", "xls"
    )
    assert code == 1 and "unknown source" in " ".join(output.split())


def test_read_queries_accepts_country_names_bom_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text(
        "\ufeffID, Name ,Country,Birth_Date\n1,Jane,Iran (Islamic Republic of),1970\n\n",
        encoding="utf-8",
    )
    ((query_id, query),) = list(read_queries(path))
    assert query_id == "1" and query.country == "IR" and query.birth_date == "1970"


def test_run_batch_handles_hard_names(tmp_path: Path) -> None:
    screener = Screener([ListEntry("t", "1", "person", ("Владимир Путин",))])
    queries = tmp_path / "q.csv"
    with queries.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "name"])
        for i, name in enumerate(["x" * 10_000, "محمد", "习近平", "Vladimir Putin", ""]):
            writer.writerow([i, name])
    result = run_batch(screener, queries, tmp_path / "m.csv")
    assert result.queries == 5
    assert [r["id"] for r in _rows(tmp_path / "m.csv")] == ["3"]


def test_a_bad_line_raises_a_typed_error(tmp_path: Path) -> None:
    path = _csv(tmp_path / "q.csv", "id,name,birth_date\n1,Jane,1970-13\n")
    with pytest.raises(BatchInputError, match="line 2"):
        list(read_queries(path))


@pytest.mark.skipif(not UN.exists(), reason="shared/data/sanctions not present")
def test_batch_against_the_un_list(riskops: typer.Typer, tmp_path: Path) -> None:
    queries = _csv(tmp_path / "q.csv", "id,name,birth_date\n1,Sadam Husein al-Tikriti,1937\n")
    out = tmp_path / "m.csv"
    code, output = _invoke(riskops, "batch", str(queries), "--out", str(out), "--list", str(UN))
    assert code == 0, output
    assert _rows(out)[0]["entry_id"] == "6908048"
