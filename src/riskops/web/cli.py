"""Commands of the ``web`` package: ``riskops serve``."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this package's commands to the ``riskops`` command line."""

    @app.command()
    def serve(
        host: str = typer.Option("127.0.0.1", help="interface to listen on"),
        port: int = typer.Option(8000, help="TCP port"),
        log_level: str = typer.Option("warning", help="uvicorn log level"),
    ) -> None:
        """Serve the HTTP API (OpenAPI at /openapi.json and /docs, /healthz, /readyz).

        One process owns the monitor state: it tails the event log in the background and
        answers POST /v1/decisions synchronously. Its child process runs the log followers
        (linked accounts, screening, account profiles and ratings), case intake and
        housekeeping, and ends with it; RISKOPS_SERVE_FOLLOWERS=false starts none (a
        `riskops worker` beside it runs them). Configure with RISKOPS_* variables.
        """
        import uvicorn

        from riskops.web.app import create_app

        typer.echo(f"riskops API on http://{host}:{port}  (docs: /docs)")
        uvicorn.run(create_app(), host=host, port=port, log_level=log_level)
