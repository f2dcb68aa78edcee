"""``kernel.duck``: DuckDB spills to the system's temporary directory, never to ``.tmp``
under the directory a command was run from, and every in-memory DuckDB is opened there."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest

from riskops.kernel import duck

SRC = Path(__file__).resolve().parents[2] / "src" / "riskops"


def test_a_query_past_the_memory_limit_spills_outside_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    con = duck.connect(1, "40MB")
    try:
        setting = con.execute("SELECT current_setting('temp_directory')").fetchone()
        assert setting is not None
        assert Path(setting[0]).parent == Path(tempfile.gettempdir())
        # a sort of ~3M strings does not fit in 40MB: it spills
        con.execute(
            "CREATE TABLE t AS SELECT md5(i::VARCHAR) AS s FROM range(3000000) r(i) ORDER BY s"
        )
        assert con.execute("SELECT count(*) FROM t").fetchone() == (3_000_000,)
    finally:
        con.close()
    assert not (tmp_path / ".tmp").exists()


def test_no_module_opens_duckdb_its_own_way() -> None:
    opened = [
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if path != SRC / "kernel" / "duck.py"
        and re.search(r"duckdb\.connect\(", path.read_text(encoding="utf-8"))
    ]
    assert opened == [], f"open DuckDB with riskops.kernel.duck.connect: {opened}"
