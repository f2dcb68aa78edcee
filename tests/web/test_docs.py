"""/docs works offline: every asset its page references is served by the app itself, the
page has no inline script (a Content-Security-Policy without 'unsafe-inline' runs it), and
the vendored files are the registry's, byte for byte (the hashes in the vendor README)."""

from __future__ import annotations

import hashlib
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from riskops.kernel.config import Settings
from riskops.web.app import create_app
from riskops.web.deps import Container

VENDOR = Path(__file__).parents[2] / "src" / "riskops" / "web" / "static" / "vendor"
CONTENT_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


class _Page(HTMLParser):
    """Every URL an HTML page makes the browser load, and the text of its scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.assets: list[str] = []
        self.inline_scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("src", "href"):
            if (url := values.get(name)) is not None:
                self.assets.append(url)
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts.append(data)


@pytest.fixture
def client(sqlite_engine: Engine, tmp_path: Path) -> TestClient:
    settings = Settings(data_dir=tmp_path, database_url="")
    return TestClient(create_app(Container(settings, sqlite_engine), start_background=False))


def test_every_asset_of_the_docs_page_is_served_by_the_app(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = _Page()
    page.feed(response.text)
    assert len(page.assets) >= 3  # the stylesheet, the bundle and the page's own script
    assert not re.search(r"(?i)\b(https?:)?//", response.text), "an absolute URL in /docs"
    for url in page.assets:
        assert url.startswith("/") and not url.startswith("//"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert asset.content, url
        expected = CONTENT_TYPES[Path(url).suffix]
        assert expected in asset.headers["content-type"], (url, asset.headers["content-type"])


def test_the_docs_page_has_no_inline_script_and_starts_swagger_from_a_file(
    client: TestClient,
) -> None:
    page = _Page()
    page.feed(client.get("/docs").text)
    assert page.inline_scripts == []
    init = client.get("/static/docs.js").text
    assert "SwaggerUIBundle(" in init
    assert "validatorUrl: null" in init  # else the UI loads a badge from swagger.io
    url = re.search(r'data-openapi-url="([^"]+)"', client.get("/docs").text)
    assert url is not None and client.get(url.group(1)).json()["openapi"].startswith("3.")


@pytest.mark.parametrize("path", ["/redoc", "/docs/oauth2-redirect"])
def test_pages_that_would_need_a_cdn_are_not_served(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404


def test_vendored_files_match_the_hashes_in_the_vendor_readme() -> None:
    readme = (VENDOR / "README.md").read_text()
    rows = re.findall(r"^\| `([^`]+)` \|.*sha256 `([0-9a-f]{64})`", readme, re.MULTILINE)
    assert {name for name, _ in rows} >= {
        "htmx.min.js",
        "swagger-ui-bundle.js",
        "swagger-ui.css",
        "swagger-ui-favicon-32x32.png",
    }
    for name, digest in rows:
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
