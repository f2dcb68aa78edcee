"""Security headers on every response: the console's Content-Security-Policy, no framing,
no MIME sniffing, no referrer. ADR 0020.

The console has no inline script, no inline event handler and no ``style`` attribute
(``console.js`` and ``console.css`` hold them), so the policy allows scripts and styles from
the app's own origin only: no ``'unsafe-inline'``, no ``'unsafe-eval'``. A response that
sets one of these headers itself (an attachment download, with a stricter policy) keeps it.

A plain ASGI middleware, not Starlette's ``BaseHTTPMiddleware``: it only appends headers
to the ``http.response.start`` message, so the decision lane's hot path pays a dict merge.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",  # Swagger UI's icons are data: URIs
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# A download (an email attachment) must never run as a page of ours, even if opened inline.
DOWNLOAD_POLICY = "default-src 'none'; sandbox; frame-ancestors 'none'"

HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}
_RAW = [
    (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in HEADERS.items()
]
_UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9._ -]+")
_SAFE_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")


def download_headers(filename: str, fallback: str) -> dict[str, str]:
    """Headers that make a stored file a download, never a page of ours: ``attachment``
    with its name (RFC 6266: an ASCII ``filename`` for old clients, the exact name as
    UTF-8 ``filename*``), ``nosniff``, and a sandboxing policy in case it is opened anyway.
    ``fallback`` names the file when its own name is blank or has no safe character."""
    # Only the last path component: a sender's "../../x" or "C:\\x" names nothing of ours.
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].strip() or fallback
    ascii_name = _UNSAFE_IN_NAME.sub("_", name)
    if not ascii_name.strip("._ "):
        ascii_name = fallback
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"
    return {
        "Content-Disposition": disposition,
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": DOWNLOAD_POLICY,
    }


def download_type(stored: str | None) -> str:
    """The stored media type of a file, when it is one (``type/subtype``, parameters
    dropped); ``application/octet-stream`` for anything else, so a header never carries
    what a sender wrote."""
    kind = (stored or "").split(";", 1)[0].strip().lower()
    return kind if _SAFE_TYPE.fullmatch(kind) else "application/octet-stream"


class SecurityHeaders:
    """ASGI middleware: adds ``HEADERS`` to every HTTP response that lacks them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(item for item in _RAW if item[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
