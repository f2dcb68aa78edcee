"""The ``riskops`` command line. Each domain package adds its own commands in its ``cli.py``."""

from __future__ import annotations

import typer

from riskops.events import cli as events_cli
from riskops.monitor import cli as monitor_cli
from riskops.rules import cli as rules_cli
from riskops.sim import cli as sim_cli
from riskops.web import cli as web_cli

app = typer.Typer(
    name="riskops",
    help="Risk operations for crypto exchanges: monitor, cases, investigation, reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for module in (events_cli, monitor_cli, rules_cli, sim_cli, web_cli):
    module.register(app)


def main() -> None:
    from riskops.kernel.logging import configure_logging

    configure_logging()
    app()


if __name__ == "__main__":
    main()
