"""Named lists (addresses, IPs, countries, devices) that rules test with ``in_list``.

A directory holds one ``NAME.txt`` per list: one value per line, ``#`` starts a comment,
blank lines are ignored. Rules are compiled against the contents at load time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from riskops.kernel.logging import get_logger

log = get_logger(__name__)


class UnknownListError(KeyError):
    """A rule refers to a list that is not loaded."""


class ListStore:
    """Immutable-by-convention mapping of list name -> frozenset of values.

    A rule may name a list that is not loaded (a deployment without the sanctions feed).
    With ``strict=False`` (the default) such a list reads as empty and a warning is logged
    once, so the monitor still starts; ``strict=True`` (``rules validate``) raises.
    """

    def __init__(
        self, lists: Mapping[str, Iterable[str]] | None = None, *, strict: bool = False
    ) -> None:
        self._lists: dict[str, frozenset[str]] = {
            name: frozenset(str(v) for v in values) for name, values in (lists or {}).items()
        }
        self.strict = strict
        self.missing: set[str] = set()

    @classmethod
    def from_dir(cls, directory: Path | str, *, strict: bool = False) -> ListStore:
        """Every ``NAME.txt`` in ``directory``."""
        lists: dict[str, list[str]] = {}
        for path in sorted(Path(directory).glob("*.txt")):
            lists[path.stem] = parse_list_text(path.read_text(encoding="utf-8"))
        return cls(lists, strict=strict)

    @classmethod
    def from_dict(cls, lists: Mapping[str, Iterable[str]], *, strict: bool = False) -> ListStore:
        return cls(lists, strict=strict)

    def merged(self, other: ListStore) -> ListStore:
        """These lists plus ``other``'s (``other`` wins on a name in both)."""
        out = ListStore(strict=self.strict)
        out._lists = {**self._lists, **other._lists}
        return out

    def get(self, name: str) -> frozenset[str]:
        found = self._lists.get(name)
        if found is not None:
            return found
        known = ", ".join(sorted(self._lists)) or "none"
        if self.strict:
            raise UnknownListError(f"unknown list {name!r}; loaded lists: {known}")
        if name not in self.missing:
            self.missing.add(name)
            log.warning("rules.list_missing", list=name, loaded=known)
        return frozenset()

    def names(self) -> list[str]:
        return sorted(self._lists)

    def __contains__(self, name: object) -> bool:
        return name in self._lists


def parse_list_text(text: str) -> list[str]:
    """Values of a list file: one per line, ``#`` comments and blank lines skipped."""
    values = []
    for line in text.splitlines():
        value = line.split("#", 1)[0].strip()
        if value:
            values.append(value)
    return values


def default_lists() -> ListStore:
    """The lists shipped with the default pack (``riskops/rules/pack_lists/*.txt``)."""
    from importlib import resources

    try:
        folder = resources.files("riskops.rules").joinpath("pack_lists")
        files = [f for f in folder.iterdir() if f.name.endswith(".txt")]
    except (FileNotFoundError, NotADirectoryError):
        return ListStore()
    return ListStore(
        {
            f.name.removesuffix(".txt"): parse_list_text(f.read_text(encoding="utf-8"))
            for f in sorted(files, key=lambda f: f.name)
        }
    )
