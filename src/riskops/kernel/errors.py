"""Typed errors that carry their HTTP status; rendered in one place (``riskops.web.app``)."""

from __future__ import annotations

from typing import Any


class RiskopsError(Exception):
    """Base of every error a user may see. Never carries a stack trace to the user."""

    status_code = 500
    code = "internal_error"

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return body


class ValidationFailed(RiskopsError):
    status_code = 422
    code = "validation_failed"


class NotFound(RiskopsError):
    status_code = 404
    code = "not_found"


class Conflict(RiskopsError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(RiskopsError):
    status_code = 413
    code = "payload_too_large"


class BadRequest(RiskopsError):
    status_code = 400
    code = "bad_request"


class Unauthorized(RiskopsError):
    """No valid session or token: the caller must log in or present an API token."""

    status_code = 401
    code = "unauthorized"


class Forbidden(RiskopsError):
    """Authenticated, but the role or token scope does not allow this (or CSRF, four-eyes).

    ``permission`` names the permission that was missing, when that is the reason; the
    error renderers record every refusal in the audit trail with it.
    """

    status_code = 403
    code = "forbidden"

    def __init__(self, message: str, *, details: Any = None, permission: str | None = None):
        super().__init__(message, details=details)
        self.permission = permission


class Busy(RiskopsError):
    """A shared resource (the event log's append lock) stayed taken past its wait limit:
    nothing was done, and the same request can be sent again in a few seconds."""

    status_code = 503
    code = "busy"
