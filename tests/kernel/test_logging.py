"""Logs go to stderr: stdout is a command's own output (``--json`` lines), read by callers."""

from __future__ import annotations

import json
from collections.abc import Iterator

import click
import pytest
import structlog
from click.testing import CliRunner

from riskops.kernel.config import get_settings
from riskops.kernel.logging import configure_logging, get_logger

log = get_logger(__name__)


@pytest.fixture
def configured(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Logging as ``riskops`` configures it, at INFO; the configuration before is put back."""
    saved = structlog.get_config()
    monkeypatch.setenv("RISKOPS_LOG_LEVEL", "INFO")
    get_settings.cache_clear()
    configure_logging()
    yield
    get_settings.cache_clear()
    structlog.configure(**saved)


def test_an_event_is_logged_on_stderr_not_stdout(
    configured: None, capsys: pytest.CaptureFixture[str]
) -> None:
    log.info("kernel.logging_checked", case_id="case-1")
    out, err = capsys.readouterr()
    assert "kernel.logging_checked" in err and "case_id=case-1" in err
    assert out == ""


def test_a_command_run_by_cli_runner_has_only_its_output_on_stdout(configured: None) -> None:
    """The runner swaps sys.stderr after logging was configured: the log follows the swap
    (into the result's stderr), and the command's stdout is its JSON alone."""

    @click.command()
    def command() -> None:
        log.warning("kernel.logging_checked", during="command")
        click.echo(json.dumps({"answer": 42}))

    runner = CliRunner()
    for _ in range(2):  # each run's own streams, not the first run's
        result = runner.invoke(command)
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout) == {"answer": 42}
        assert "kernel.logging_checked" in result.stderr and "during=command" in result.stderr
