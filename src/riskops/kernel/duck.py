"""One way to open an in-memory DuckDB: bounded threads (and memory), spilling to the
system's temporary directory.

DuckDB's own default spill directory for an in-memory database is ``.tmp`` under the
current directory: a large backtest or ``riskops evaluate`` would leave gigabytes of files
wherever the command was run, while it runs (and behind it, if killed).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb


def connect(threads: int, memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with ``threads`` threads, ``memory_limit`` (DuckDB's default:
    80% of the machine) and its spill files under the system's temporary directory."""
    con = duckdb.connect()
    con.execute(f"SET threads = {int(threads)}")
    if memory_limit is not None:
        con.execute("SET memory_limit = ?", [memory_limit])
    con.execute("SET temp_directory = ?", [str(Path(tempfile.gettempdir()) / "riskops-duckdb")])
    return con
