"""``/docs``: Swagger UI served by riskops itself, so it works without internet access.

FastAPI's own page loads Swagger UI from a CDN and starts it with an inline script. This
page takes the assets vendored in ``web/static/vendor`` (the npm package ``swagger-ui-dist``,
see its README) and starts Swagger UI from ``web/static/docs.js``, so a Content-Security-
Policy without ``'unsafe-inline'`` lets it run. ReDoc is off: it would need a CDN too.
"""

from __future__ import annotations

from html import escape

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

DOCS_PATH = "/docs"
# Every asset the page loads, all served by the app (the console's /static mount).
SWAGGER_CSS = "/static/vendor/swagger-ui.css"
SWAGGER_JS = "/static/vendor/swagger-ui-bundle.js"
SWAGGER_FAVICON = "/static/vendor/swagger-ui-favicon-32x32.png"
DOCS_INIT_JS = "/static/docs.js"


def docs_html(title: str, openapi_url: str) -> str:
    """The Swagger UI page: local assets only, no inline script or style."""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} - API documentation</title>
<link rel="icon" type="image/png" href="{SWAGGER_FAVICON}">
<link rel="stylesheet" href="{SWAGGER_CSS}">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{escape(openapi_url)}"></div>
<script src="{SWAGGER_JS}"></script>
<script src="{DOCS_INIT_JS}"></script>
</body>
</html>
"""


def include(app: FastAPI) -> None:
    """Serve ``/docs`` from local assets; the app is built with ``docs_url=None``."""
    openapi_url = app.openapi_url or "/openapi.json"
    page = docs_html(app.title, openapi_url)

    @app.get(DOCS_PATH, include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return HTMLResponse(page)
