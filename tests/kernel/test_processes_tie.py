"""``python -m riskops.kernel.processes PARENT MODULE [ARG...]``: a module run tied to its
parent from the start (how ``riskops serve`` starts its followers' child, ADR 0029)."""

from __future__ import annotations

import os
import subprocess
import sys


def _tied(parent: int, *module: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "riskops.kernel.processes", str(parent), *module]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_the_module_runs_as_main_with_its_arguments_while_the_parent_lives() -> None:
    done = _tied(os.getpid(), "json.tool", "--compact", "--help")
    assert done.returncode == 0, done.stderr
    assert "--compact" in done.stdout and "json.tool" in done.stdout


def test_a_child_whose_parent_is_gone_ends_before_the_module_runs() -> None:
    """Its parent (this test) is not the pid it was given: the parent died before the tie
    was armed, so it ends at once, the module never run."""
    done = _tied(os.getpid() + 1_000_000, "json.tool", "--help")
    assert done.returncode == 1 and done.stdout == ""
