"""Logs go to stderr: stdout is a command's own output (``--json`` lines), read by callers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

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


def test_the_app_factory_configures_logging_as_serve_does(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``uvicorn riskops.web.app:create_app --factory`` never runs the ``riskops`` command:
    the factory configures logging itself (the level of the settings, lines on stderr)."""
    from riskops.web.app import create_app

    saved = structlog.get_config()
    structlog.reset_defaults()  # as a fresh process: stdout, every level
    monkeypatch.setenv("RISKOPS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("RISKOPS_DATABASE_URL", "")
    monkeypatch.setenv("RISKOPS_LOG_LEVEL", "WARNING")
    get_settings.cache_clear()
    try:
        create_app()
        log.info("kernel.logging_below_the_level")
        log.warning("kernel.logging_checked", by="factory")
        out, err = capsys.readouterr()
    finally:
        get_settings.cache_clear()
        structlog.configure(**saved)
    assert "kernel.logging_checked" in err and "kernel.logging_below_the_level" not in err
    assert out == ""


def test_uvicorn_writes_its_access_lines_to_stderr_too() -> None:
    """uvicorn's default sends access lines to stdout; the servers riskops starts do not."""
    from uvicorn.config import LOGGING_CONFIG

    from riskops.kernel.logging import uvicorn_log_config

    config = uvicorn_log_config()
    streams = {handler["stream"] for handler in config["handlers"].values()}
    assert streams == {"ext://sys.stderr"}
    assert LOGGING_CONFIG["handlers"]["access"]["stream"] == "ext://sys.stdout"  # a copy
    assert config["loggers"] == LOGGING_CONFIG["loggers"]
