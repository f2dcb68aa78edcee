"""Structured logs with context; never personal data.

Logs go to standard error: standard output is a command's own output (``--json`` lines, a
table, a token), which a caller or a test reads and parses.
"""

from __future__ import annotations

import copy
import io
import logging
import sys
from typing import Any, TextIO

import structlog

from riskops.kernel.config import get_settings


class _CurrentStderr(io.TextIOBase, TextIO):
    """``sys.stderr`` as it is when a line is written, not when logging was configured.

    Click's ``CliRunner`` and pytest's capture swap ``sys.stderr`` for the time of a call
    and close theirs afterwards; a stream bound at configure time would miss the swap, or
    be closed under a daemon thread that logs later. (structlog's ``PrintLogger`` does this
    for ``sys.stdout`` only.)
    """

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging() -> None:
    """Configure structlog from the settings (``RISKOPS_LOG_LEVEL``, ``RISKOPS_LOG_JSON``):
    one line per event, on standard error."""
    settings = get_settings()
    level = getattr(logging, settings.log_level.upper(), logging.INFO)
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if settings.log_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),
    )


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(name)
    return logger


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's own logging configuration with its access lines on stderr too (uvicorn
    writes them to stdout by default), for the servers riskops starts."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    for handler in config["handlers"].values():
        if handler.get("stream") == "ext://sys.stdout":
            handler["stream"] = "ext://sys.stderr"
    return config
