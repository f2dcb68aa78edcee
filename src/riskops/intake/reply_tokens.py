"""Reply tokens: which case a customer's email answers, without trusting the sender.

A message contact sends from a case carries a token naming the case, signed with the
secret ``RISKOPS_REPLY_SECRET``: in its Reply-To address (``reply+<token>@<domain>``) and
in its subject (``[ref: <token>]``), which mail clients keep in a reply's ``Re:`` subject.
The token is ``c<case id>-<mac>``, the mac the first 80 bits (16 base32 letters) of
HMAC-SHA256 over the case id: it cannot be guessed or moved to another case without the
secret, and it is lower case, so a mail system that folds the address's case keeps it
valid. No secret configured: no token is made and none is accepted (replies are then only
recognised by the customer's own From address).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable

_TOKEN = re.compile(r"\bc([1-9][0-9]{0,17})-([a-z2-7]{16})\b", re.IGNORECASE)
_ADDRESS = re.compile(r"^reply\+(c[0-9]+-[a-z2-7]{16})@", re.IGNORECASE)
_TAG = re.compile(r"\[ref:\s*(c[0-9]+-[a-z2-7]{16})\]", re.IGNORECASE)


def _mac(secret: str, case_id: int) -> str:
    digest = hmac.new(secret.encode(), f"riskops-reply:{case_id}".encode(), hashlib.sha256)
    return base64.b32encode(digest.digest()).decode().lower()[:16]


def make(secret: str, case_id: int) -> str | None:
    """The case's token, or None when no secret is configured."""
    if not secret:
        return None
    return f"c{case_id}-{_mac(secret, case_id)}"


def verify(secret: str, token: str) -> int | None:
    """The case id a token names, or None if it is not one this secret signed."""
    match = _TOKEN.fullmatch(token.strip())
    if not secret or match is None:
        return None
    case_id = int(match.group(1))
    if not hmac.compare_digest(_mac(secret, case_id), match.group(2).lower()):
        return None
    return case_id


def reply_address(secret: str, domain: str, case_id: int) -> str | None:
    """``reply+<token>@<domain>``, or None when replies are not configured."""
    token = make(secret, case_id)
    return f"reply+{token}@{domain}" if token and domain else None


def subject_tag(secret: str, case_id: int) -> str:
    """`` [ref: <token>]`` to append to a subject ("" when not configured)."""
    token = make(secret, case_id)
    return f" [ref: {token}]" if token else ""


def case_of(secret: str, addresses: Iterable[str], subject: str) -> int | None:
    """The case a received message answers: a valid token in a recipient address
    (``reply+<token>@...``), else in the subject's tag; None if neither holds one."""
    if not secret:
        return None
    candidates = [m.group(1) for a in addresses if (m := _ADDRESS.match(a.strip()))]
    candidates += _TAG.findall(subject)
    for token in candidates:
        case_id = verify(secret, token)
        if case_id is not None:
            return case_id
    return None
