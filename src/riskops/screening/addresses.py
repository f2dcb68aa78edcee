"""Listed digital currency addresses: what the current list versions name, for intel.

OFAC's SDN list names the wallets of some of its entries ("Digital Currency Address - XBT
1A1z...;" in SDN.CSV's remarks, ``idList`` items in sdn.xml). A load extracts them into
``screening_addresses`` with the version (``service.load_list``), so a version's addresses
change with it. ``intel`` sits below screening and cannot read them; the composition hands
``IntelService.set_listed`` a provider over them instead:

    listed_addresses(sessions, default_service().set_listed, lists_dir=data_dir / "lists").start()

The provider answers from an in-memory index of the current versions' addresses (plus the
``*_addresses.txt`` files of ``lists_dir``, which intel read before). It checks the lists'
current versions (one small query) every ``every_s`` seconds (``start``: a daemon thread;
and as it is asked, at most that often), builds a new index when one changed, swaps it in
one assignment (a lookup sees the old index or the new one) and calls ``on_change`` again,
so intel forgets the answers it cached before the change.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from riskops.intel.addresses import lookup_key
from riskops.intel.schemas import Listing
from riskops.intel.service import ListedAddresses, ListedProvider
from riskops.intel.sources import DataSource
from riskops.kernel.logging import get_logger
from riskops.screening import lists
from riskops.screening import repository as repo
from riskops.screening.lists import ListEntry

log = get_logger(__name__)
CATEGORY = "sanctioned"
OnChange = Callable[[ListedProvider | None, DataSource | None], None]


def address_rows(
    version_id: int, list_name: str, entries: Sequence[ListEntry]
) -> list[dict[str, Any]]:
    """The ``screening_addresses`` rows of a version's entries (one per address named)."""
    rows = []
    for entry in entries:
        for currency, address in lists.currency_addresses(entry):
            rows.append(
                {
                    "list_version_id": version_id,
                    "list_name": list_name,
                    "entry_id": entry.entry_id[:128],
                    "entry_name": (entry.names[0] if entry.names else "")[:256],
                    "currency": currency[:16],
                    "address": address[:256],
                    "key": lookup_key(address)[:256],
                }
            )
    return rows


class ListedAddressBook:
    """A ``ListedProvider`` over the current list versions' addresses (see the module)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        on_change: OnChange | None = None,
        *,
        also: ListedProvider | None = None,
        every_s: float = 5.0,
    ) -> None:
        self._sessions = sessions
        self._on_change = on_change
        self._also = also
        self._every = every_s
        self._lock = threading.Lock()
        self._seen: tuple[tuple[str, int, str], ...] | None = None
        self._checked = float("-inf")
        self._index: dict[str, tuple[Listing, ...]] = {}
        self.source = DataSource("sanctions lists (no list loaded)")
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def __call__(self, key: str) -> Sequence[Listing]:
        if time.monotonic() - self._checked >= self._every:
            try:
                self.refresh()
            except Exception as exc:  # the database is away: answer from the index held
                log.warning("screening.listed_addresses_refresh_failed", error=repr(exc))
        index = self._index  # one read: the old index or the new one, never half
        found = index.get(key, ())
        return [*found, *self._also(key)] if self._also is not None else found

    def __len__(self) -> int:
        return len(self._index)

    def start(self) -> ListedAddressBook:
        """Refresh every ``every_s`` seconds in a daemon thread (intel caches its answers, so
        a list change must reach it without a lookup); returns the book."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="riskops-listed-addresses", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()

    def _run(self) -> None:
        while not self._stopping.wait(max(self._every, 0.5)):
            try:
                self.refresh()
            except Exception as exc:  # the database is away: the next round tries again
                log.warning("screening.listed_addresses_refresh_failed", error=repr(exc))

    def refresh(self) -> bool:
        """Rebuild the index if a list's current version changed; True if it did (and
        ``on_change`` was told)."""
        with self._lock:
            self._checked = time.monotonic()
            with self._sessions() as session:
                seen = tuple(repo.current_digests(session))
                if seen == self._seen:
                    return False
                rows = repo.current_addresses(session)
            index: dict[str, list[Listing]] = {}
            for row in rows:
                reference = f"{row.entry_id} {row.entry_name} ({row.currency})"
                listing = Listing(row.list_name, CATEGORY, reference[:256])
                index.setdefault(row.key, []).append(listing)
            self._index = {key: tuple(found) for key, found in index.items()}
            self._seen = seen
            names = ", ".join(f"{name} #{version_id}" for name, version_id, _ in seen)
            self.source = DataSource(f"sanctions lists ({names or 'none loaded'})")
        if self._on_change is not None:
            self._on_change(self, self.source)
        return True


def listed_addresses(
    sessions: sessionmaker[Session],
    on_change: OnChange | None = None,
    *,
    lists_dir: Path | None = None,
    every_s: float = 5.0,
) -> ListedAddressBook:
    """A provider of the current versions' listed addresses (and the address files of
    ``lists_dir``), read now; ``on_change`` (``IntelService.set_listed``) is called with it
    now and after each list change it sees."""
    also = ListedAddresses.from_dir(lists_dir) if lists_dir is not None else None
    book = ListedAddressBook(sessions, on_change, also=also, every_s=every_s)
    try:
        book.refresh()
    except Exception as exc:  # no database yet: the first lookup tries again
        log.warning("screening.listed_addresses_refresh_failed", error=repr(exc))
        if on_change is not None:
            on_change(book, book.source)
    return book
