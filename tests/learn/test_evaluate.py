"""riskops evaluate: the SCORES.csv layout, determinism, no leakage of test labels, errors."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from riskops.cli import app
from riskops.events.amlworld import HEADER
from riskops.learn import batch
from riskops.learn.evaluate import matrix, score_days
from riskops.learn.stacking import parties_of

DAYS = 15


def write_fixture(path: Path, seed: int = 7) -> int:
    """A small AMLworld file: ordinary transfers among 40 accounts, and each day one fresh
    account that fans out to 8 others (laundering). Returns the number of data rows."""
    rng = random.Random(seed)
    lines = [HEADER]
    for day in range(DAYS):
        stamp = f"2022/09/{day + 1:02d} "
        rows = []
        for _ in range(60):
            a, b = rng.sample(range(40), 2)
            amount = f"{rng.uniform(10, 900):.2f}"
            minute = rng.randrange(1440)
            rows.append(
                (minute, f"1,{a:08X},1,{b:08X},{amount},US Dollar,{amount},US Dollar,Wire,0")
            )
        source = 100 + day
        for k in range(8):
            amount = f"{rng.uniform(9000, 9900):.2f}"
            minute = 600 + k
            rows.append(
                (
                    minute,
                    f"2,{source:08X},1,{rng.randrange(40):08X},"
                    f"{amount},US Dollar,{amount},US Dollar,ACH,1",
                )
            )
        for minute, rest in sorted(rows):
            lines.append(f"{stamp}{minute // 60:02d}:{minute % 60:02d},{rest}")
    path.write_text("\n".join(lines) + "\n")
    return len(lines) - 1


@pytest.fixture(scope="module")
def fixture_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("evaluate") / "small_Trans.csv"
    write_fixture(path)
    return path


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["evaluate", *args])
    return result.exit_code, result.output


def read_scores(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_scores_file_layout(fixture_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "scores.csv"
    code, output = run("--events", str(fixture_file), "--out", str(out), "--seed", "3")
    assert code == 0, output
    assert "laundering F1" in output
    assert out.read_text().splitlines()[0] == "source_row,split,score,flagged"
    rows = read_scores(out)
    assert [int(r["source_row"]) for r in rows] == list(range(DAYS * 68))
    assert {r["split"] for r in rows} == {"train", "val", "test"}
    assert {r["flagged"] for r in rows} <= {"0", "1"}
    assert all(0.0 <= float(r["score"]) <= 1.0 for r in rows)
    # whole days: each day in one split, the splits in time order
    by_day = [{rows[i]["split"] for i in range(d * 68, (d + 1) * 68)} for d in range(DAYS)]
    assert all(len(s) == 1 for s in by_day)
    order = [s.pop() for s in by_day]
    assert order == sorted(order, key=["train", "val", "test"].index)
    again = tmp_path / "again.csv"
    assert run("--events", str(fixture_file), "--out", str(again), "--seed", "3")[0] == 0
    assert again.read_bytes() == out.read_bytes()  # deterministic for a seed


def test_recall_per_typology(fixture_file: Path, tmp_path: Path) -> None:
    patterns = tmp_path / "patterns.csv"
    lines = ["row,typology"]
    lines += [str(d * 68 + 60 + k) for d in range(DAYS) for k in range(8)]
    patterns.write_text(lines[0] + "\n" + "\n".join(f"{r},FAN-OUT" for r in lines[1:]) + "\n")
    code, output = run(
        "--events", str(fixture_file), "--patterns", str(patterns), "--out", str(tmp_path / "s.csv")
    )
    assert code == 0, output
    assert "recall FAN-OUT" in output


def test_test_day_labels_never_change_a_score(fixture_file: Path) -> None:
    con = batch.connect()
    labels = batch.read_amlworld(con, fixture_file).to_numpy(zero_copy_only=False).astype(bool)
    table = batch.features(con, "flat")
    con.close()
    rows = table.column("source_row").to_numpy()
    y = labels[rows]
    parties = parties_of(table)
    split, score, threshold, _ = score_days(matrix(table), parties, y, seed=1)
    shuffled = y.copy()
    test = split == 2
    shuffled[test] = np.random.default_rng(0).random(int(test.sum())) < 0.5
    assert (shuffled[test] != y[test]).any()
    split2, score2, threshold2, _ = score_days(matrix(table), parties, shuffled, seed=1)
    assert np.array_equal(split, split2)
    assert np.array_equal(score, score2) and threshold == threshold2
    # and the validation labels do matter (the threshold reads them)
    hidden = y.copy()
    hidden[split == 1] = False
    hidden[np.flatnonzero(split == 1)[:1]] = True
    assert score_days(matrix(table), parties, hidden, seed=1)[2] != threshold
    # the train labels reach the test scores through the counterparties' scores too
    x = matrix(table)
    score_days(x, parties, y, seed=1)
    assert x[:, -2:].any()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("Timestamp,Amount\n1,2\n", "not the AMLworld header"),
        (HEADER + "\n", "no data rows"),
        (HEADER + "\n2022/09/01 00:00,1,A,1,B,5,US Dollar,5,US Dollar\n", "11-column"),
        (
            HEADER + "\nyesterday,1,A,1,B,5,US Dollar,5,US Dollar,Wire,0\n",
            "data row 0: $.Timestamp",
        ),
        (
            HEADER + "\n2022/09/01 00:00,1,A,1,B,5,US Dollar,5,Doubloon,Wire,0\n",
            "$.Payment Currency",
        ),
        (
            HEADER + "\n2022/09/01 00:00,1,A,1,B,5,US Dollar,five,US Dollar,Wire,0\n",
            "$.Amount Paid",
        ),
    ],
)
def test_a_malformed_file_is_named_not_a_traceback(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    code, output = run("--events", str(path), "--out", str(tmp_path / "s.csv"))
    assert code == 1
    assert message in " ".join(output.split())
    assert "Traceback" not in output


def test_missing_files_and_options(tmp_path: Path, fixture_file: Path) -> None:
    code, output = run("--events", str(tmp_path / "none.csv"), "--out", str(tmp_path / "s.csv"))
    assert code == 1 and "no such file" in output
    code, output = run(
        "--events",
        str(fixture_file),
        "--patterns",
        str(tmp_path / "none.csv"),
        "--out",
        str(tmp_path / "s.csv"),
    )
    assert code == 1 and "no such file" in output
    bad = tmp_path / "patterns.csv"
    bad.write_text("row,typology\nseven,CYCLE\n")
    code, output = run(
        "--events", str(fixture_file), "--patterns", str(bad), "--out", str(tmp_path / "s.csv")
    )
    assert code == 1 and "line 2" in " ".join(output.split())
    code, output = run(
        "--events", str(fixture_file), "--format", "csv", "--out", str(tmp_path / "s.csv")
    )
    assert code == 2 and "unknown format" in output
    code, output = run("--events", str(fixture_file), "--out", str(tmp_path / "no" / "s.csv"))
    assert code == 2 and "no such directory" in output
