"""The analysts' console: server-rendered pages (Jinja2 + htmx), behind login.

See docs/adr/0009-server-rendered-console.md. Pages call the same services as the JSON
API, with the logged-in user's principal, so every permission is checked in the service.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles


def include(app: FastAPI) -> None:
    """Mount the console's static files and pages on the app."""
    from riskops.web.console import (
        account_pages,
        anomaly_pages,
        approvals,
        audit,
        case_pages,
        contact_pages,
        holds,
        links_pages,
        login,
        outbound_pages,
        qa_pages,
        reports_pages,
        review_pages,
        rota,
        sar_pages,
        search,
        service_requests,
        work,
        workbench_pages,
    )
    from riskops.web.console.templating import STATIC_DIR

    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="console-static")
    for module in (
        login,
        work,
        search,
        case_pages,
        account_pages,
        links_pages,
        review_pages,
        holds,
        approvals,
        rota,
        service_requests,
        audit,
        qa_pages,
        outbound_pages,
        reports_pages,
        contact_pages,
        sar_pages,
        workbench_pages,
        anomaly_pages,
    ):
        app.include_router(module.router)
