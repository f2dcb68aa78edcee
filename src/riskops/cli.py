"""The ``riskops`` command line. Each domain package adds its own commands in its ``cli.py``."""

from __future__ import annotations

from pathlib import Path

import typer

from riskops import worker as worker_cli
from riskops.accounts import risk_cli as rating_cli
from riskops.auth import cli as auth_cli
from riskops.authoring import cli as authoring_cli
from riskops.cluster import cli as cluster_cli
from riskops.events import cli as events_cli
from riskops.intake import cli as intake_cli
from riskops.intel import cli as intel_cli
from riskops.investigation import cli as investigation_cli
from riskops.learn import cli as learn_cli
from riskops.learn import evaluate_cli
from riskops.links import cli as links_cli
from riskops.monitor import cli as monitor_cli
from riskops.outbound import cli as outbound_cli
from riskops.qa import cli as qa_cli
from riskops.reports import cli as reports_cli
from riskops.rules import cli as rules_cli
from riskops.sar import cli as sar_cli
from riskops.screening import cli as screening_cli
from riskops.sim import cli as sim_cli
from riskops.web import cli as web_cli

app = typer.Typer(
    name="riskops",
    help="Risk operations for crypto exchanges: monitor, cases, investigation, reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for module in (
    auth_cli,
    authoring_cli,
    cluster_cli,
    evaluate_cli,
    events_cli,
    intake_cli,
    intel_cli,
    investigation_cli,
    learn_cli,
    links_cli,
    monitor_cli,
    outbound_cli,
    qa_cli,
    rating_cli,
    reports_cli,
    rules_cli,
    sar_cli,
    screening_cli,
    sim_cli,
    web_cli,
    worker_cli,
):
    module.register(app)


@app.command()
def demo(
    accounts: int = typer.Option(5_000, help="simulated accounts"),
    days: int = typer.Option(30, help="simulated days"),
    seed: int = typer.Option(7, help="simulation seed (the rules were tuned on seed 1)"),
    data_dir: Path = typer.Option(Path(".riskops/demo"), help="demo database and files"),
    serve: bool = typer.Option(True, help="serve the API on the demo data afterwards"),
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8000),
) -> None:
    """Simulate an exchange, ingest and monitor it, print what was caught, then serve the API."""
    from riskops.demo import DemoOptions, run

    run(DemoOptions(accounts, days, seed, data_dir, serve, host, port))


def main() -> None:
    from riskops.kernel.logging import configure_logging

    configure_logging()
    app()


if __name__ == "__main__":
    main()
