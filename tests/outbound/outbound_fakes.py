"""Receivers for the outbound tests: a real SMTP server (aiosmtpd, with login and STARTTLS
when asked) and a small HTTP server that records requests and answers as told."""

from __future__ import annotations

import contextlib
import email
import http.server
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from processes import free_port

USER, PASSWORD = "mailer", "s3cret"


@dataclass
class Inbox:
    """What the SMTP server accepted."""

    messages: list[Message] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.messages.append(email.message_from_bytes(envelope.original_content))
        return "250 OK"

    def ids(self) -> list[str]:
        with self.lock:
            found = [str(m["Message-ID"]) for m in self.messages]
        return [m.strip("<>").removesuffix("@riskops") for m in found]


def _authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USER.encode()
        and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


@contextlib.contextmanager
def smtp_server(
    *,
    port: int | None = None,
    login: bool = False,
    tls: ssl.SSLContext | None = None,
    implicit_tls: ssl.SSLContext | None = None,
) -> Iterator[tuple[Inbox, int]]:
    """A local SMTP server; with ``login`` it requires AUTH, with ``tls`` STARTTLS first,
    with ``implicit_tls`` TLS from the first byte (smtps)."""
    inbox = Inbox()
    port = port or free_port()
    kwargs: dict[str, Any] = {}
    if implicit_tls is not None:
        kwargs["ssl_context"] = implicit_tls
    if login:
        kwargs.update(authenticator=_authenticator, auth_required=True)
        kwargs["auth_require_tls"] = tls is not None
    if tls is not None:
        kwargs.update(tls_context=tls, require_starttls=True)
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made with the openssl command (the test
    skips without it: the ``cryptography`` package is not installed here)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    try:
        subprocess.run(
            [
                "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                "-keyout", str(key), "-out", str(cert),
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"no openssl to make a test certificate: {exc!r}")
    return cert, key


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HttpReceiver:
    """Records each POST; answers the next status of ``statuses`` (then 200)."""

    statuses: list[int] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@contextlib.contextmanager
def http_receiver(statuses: list[int] | None = None) -> Iterator[HttpReceiver]:
    receiver = HttpReceiver(statuses=list(statuses or []))

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            with receiver.lock:
                receiver.requests.append(Request(self.path, dict(self.headers.items()), body))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
