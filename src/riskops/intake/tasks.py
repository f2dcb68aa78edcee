"""Importing mail files: ``.eml`` files, directories of them, and mbox files.

Each message is its own transaction, so one bad message never undoes the others and an
interrupted import resumes where it stopped when run again (stored messages are "known").
"""

from __future__ import annotations

import mailbox
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from riskops.intake.service import MessageOutcome, receive_email
from riskops.kernel.db import unit_of_work

_MBOX_SUFFIXES = frozenset({".mbox", ".mbx"})


@dataclass(slots=True)
class ImportSummary:
    imported: int = 0
    known: int = 0
    unlinked: int = 0  # imported, linked to no account: a triage case each
    accounts_linked: int = 0
    malformed: list[tuple[str, str]] = field(default_factory=list)  # (where, reason)
    failed: list[tuple[str, str]] = field(default_factory=list)  # not stored: run again

    @property
    def total(self) -> int:
        return self.imported + self.known + len(self.malformed) + len(self.failed)


def is_mbox(path: Path) -> bool:
    if path.suffix.lower() in _MBOX_SUFFIXES:
        return True
    with path.open("rb") as handle:
        return handle.read(5) == b"From "


def _files(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and _mail_file(p))
        else:
            yield path


def _mail_file(path: Path) -> bool:
    return path.suffix.lower() == ".eml" or path.suffix.lower() in _MBOX_SUFFIXES


def count_messages(paths: Iterable[Path]) -> int:
    """How many messages the paths hold (an mbox is scanned for its separators)."""
    total = 0
    for path in _files(paths):
        if is_mbox(path):
            box = mailbox.mbox(path, create=False)
            try:
                total += len(box)
            finally:
                box.close()
        else:
            total += 1
    return total


def iter_messages(paths: Iterable[Path]) -> Iterator[tuple[str, bytes]]:
    """``(where, raw bytes)`` of every message: ``file`` or ``file#n`` for mbox entries."""
    for path in _files(paths):
        if not is_mbox(path):
            yield str(path), path.read_bytes()
            continue
        box = mailbox.mbox(path, create=False)
        try:
            for number, key in enumerate(box.iterkeys(), start=1):
                yield f"{path}#{number}", box.get_bytes(key)
        finally:
            box.close()


def import_messages(
    sessions: sessionmaker[Session],
    messages: Iterable[tuple[str, bytes]],
    *,
    max_bytes: int | None = None,
    own_addresses: frozenset[str] = frozenset(),
    progress: Callable[[int], object] | None = None,
) -> ImportSummary:
    """Receive each message in its own transaction and count what became of it."""
    summary = ImportSummary()
    for where, raw in messages:
        try:
            with unit_of_work(sessions) as session:
                received = receive_email(
                    session,
                    raw,
                    channel="import",
                    source_name=where,
                    max_bytes=max_bytes,
                    own_addresses=own_addresses,
                )
        except Exception as exc:  # reported, not stored; the next run retries it
            summary.failed.append((where, f"{type(exc).__name__}: {exc}"[:300]))
        else:
            if received.outcome is MessageOutcome.KNOWN:
                summary.known += 1
            elif received.outcome is MessageOutcome.MALFORMED:
                summary.malformed.append((where, received.reason or "malformed"))
            else:
                summary.imported += 1
                summary.unlinked += received.unlinked
                summary.accounts_linked += len(received.account_ids)
        if progress is not None:
            progress(1)
    return summary
