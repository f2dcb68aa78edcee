"""Sanctions list entries and the loaders for the formats publishers release.

``load(source, paths)`` reads one list release into ``ListEntry`` values:

- ``ofac-sdn``: OFAC's legacy CSV files (SDN.CSV, with ALT.CSV and ADD.CSV when given): no
  header row, CRLF line ends, ``-0-`` for an empty field, a Ctrl-Z byte (0x1A) at the end.
  Dates of birth, nationality and digital currency addresses sit inside the remarks.
- ``ofac-xml``: OFAC's ``sdn.xml`` (any namespace OFAC has used).
- ``un-xml``: the UN Security Council consolidated list.
- ``ftm``: OpenSanctions FollowTheMoney entities, one JSON object a line.

A malformed file raises ``ListFormatError`` naming the file and the line or element; a loader
never returns half a list.
"""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from riskops.kernel.errors import ValidationFailed
from riskops.screening.countries import country_code

SOURCES = ("ofac-sdn", "ofac-xml", "un-xml", "ftm")
KINDS = ("person", "organization", "vessel", "aircraft", "other")


@dataclass(frozen=True, slots=True)
class ListEntry:
    """One listed person, organisation, vessel or aircraft, as its list gives it."""

    source: str  # "ofac-sdn" | "un" | "ftm" (+ ":" dataset) ...
    entry_id: str  # the list's own id (SDN ent_num, UN DATAID, FtM id)
    kind: str  # "person" | "organization" | "vessel" | "aircraft" | "other"
    names: tuple[str, ...]  # primary name first, then aliases
    birth_dates: tuple[str, ...] = ()  # "YYYY" | "YYYY-MM" | "YYYY-MM-DD"
    countries: tuple[str, ...] = ()  # ISO-3166 alpha-2, upper case
    programs: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()  # incl. digital currency addresses where listed
    remarks: str = ""


@dataclass(frozen=True, slots=True)
class Query:
    """A name to screen, with the evidence the caller has."""

    name: str
    birth_date: str | None = None
    country: str | None = None
    kind: str | None = None


@dataclass(frozen=True, slots=True)
class Match:
    """A list entry that scored at or above the threshold, with why."""

    entry: ListEntry
    score: float
    matched_name: str
    reasons: tuple[str, ...]


class ListFormatError(ValidationFailed):
    """A list file that is not what its format says; the message names the file and where."""

    code = "list_format_error"

    def __init__(self, path: Path | str, where: str, problem: str) -> None:
        super().__init__(f"{path}: {where}: {problem}")
        self.path = str(path)
        self.where = where
        self.problem = problem


def load(source: str, paths: Sequence[Path]) -> list[ListEntry]:
    """Read one release of a list; ``source`` is one of ``SOURCES``."""
    if not paths:
        raise ListFormatError("(no file)", "arguments", f"{source} needs at least one file")
    if source == "ofac-sdn":
        return load_ofac_csv(paths)
    if source == "ofac-xml":
        return [entry for path in paths for entry in load_ofac_xml(path)]
    if source == "un-xml":
        return [entry for path in paths for entry in load_un_xml(path)]
    if source == "ftm":
        return [entry for path in paths for entry in load_ftm(path)]
    raise ListFormatError(
        ", ".join(str(p) for p in paths), "source", f"unknown source {source!r} (one of {SOURCES})"
    )


# --- shared helpers ------------------------------------------------------------------------

_MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for value in values:
        cleaned = " ".join(value.split())
        if cleaned and cleaned not in seen:
            seen[cleaned] = None
    return tuple(seen)


def _countries(values: Iterable[str]) -> tuple[str, ...]:
    return _unique(code for code in (country_code(v) for v in values) if code)


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ListFormatError(path, "file", f"cannot be read ({error.strerror})") from error
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        # OFAC's older legacy files are Windows-1252.
        return raw.decode("cp1252", errors="replace")


def parse_date(text: str) -> tuple[str, ...]:
    """Dates as lists write them ("12 Mar 1965", "Mar 1965", "1965", "1960 to 1962",
    "circa 1958", "1965-03-12") as ISO prefixes; () when there is no date in ``text``."""
    text = text.strip()
    iso = re.fullmatch(r"(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?(?:T.*)?", text)
    if iso:
        return ("-".join(part for part in iso.groups() if part),)
    between = re.search(r"(\d{4})\s*(?:to|-|–)\s*(\d{4})", text)
    if between:
        start, end = int(between.group(1)), int(between.group(2))
        if 0 <= end - start <= 10:
            return tuple(str(year) for year in range(start, end + 1))
    full = re.search(r"(\d{1,2})\s+([A-Za-z]{3})[a-z]*\.?\s+(\d{4})", text)
    if full and full.group(2).casefold() in _MONTHS:
        day, month = int(full.group(1)), _MONTHS[full.group(2).casefold()]
        return (f"{full.group(3)}-{month:02d}-{day:02d}",)
    month_year = re.search(r"\b([A-Za-z]{3})[a-z]*\.?\s+(\d{4})", text)
    if month_year and month_year.group(1).casefold() in _MONTHS:
        return (f"{month_year.group(2)}-{_MONTHS[month_year.group(1).casefold()]:02d}",)
    year = re.search(r"\b(1[89]\d{2}|20\d{2})\b", text)
    return (year.group(1),) if year else ()


# --- OFAC legacy CSV ---------------------------------------------------------------------

_EMPTY = "-0-"
_SDN_KINDS = {
    "individual": "person",
    "vessel": "vessel",
    "aircraft": "aircraft",
    "": "organization",
}


def _ofac_field(value: str) -> str:
    value = value.strip()
    return "" if value == _EMPTY else value


def _ofac_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    text = _read_text(path)
    # OFAC files end with a Ctrl-Z (0x1A) byte, a DOS end-of-file mark: nothing after it is data.
    text = text.split("\x1a", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        for row in reader:
            if not row or all(not cell.strip() for cell in row):
                continue
            yield reader.line_num, [_ofac_field(cell) for cell in row]
    except csv.Error as error:
        raise ListFormatError(path, f"line {reader.line_num}", f"not CSV ({error})") from error


_REMARK_DOB = re.compile(r"\bDOB\s+([^;]+)")
_REMARK_NATIONALITY = re.compile(r"\b(?:nationality|citizen)\s+([^;.]+)", re.IGNORECASE)
_REMARK_CURRENCY = re.compile(r"Digital Currency Address - ([A-Z0-9]+)\s+([A-Za-z0-9:]+)")


# An entry's digital currency address, as the loaders write it into ``addresses``: the
# list's ticker, a space, the address (no comma, no space: a street address never fits).
_CURRENCY_ADDRESS = re.compile(r"([A-Z][A-Z0-9]{1,9}) ([A-Za-z0-9:]{25,128})")


def currency_addresses(entry: ListEntry) -> list[tuple[str, str]]:
    """The (ticker, address) of each digital currency address an entry names (OFAC's
    "Digital Currency Address - XBT 1A1z..." remarks and ``idList`` items)."""
    found = (_CURRENCY_ADDRESS.fullmatch(text) for text in entry.addresses)
    return [(m.group(1), m.group(2)) for m in found if m is not None]


@dataclass(slots=True)
class _SdnDraft:
    entry_id: str
    kind: str
    name: str
    programs: tuple[str, ...]
    remarks: str
    aliases: list[str] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)


def _sdn_programs(value: str) -> tuple[str, ...]:
    # OFAC writes several programs as "FTO] [SDGT".
    return _unique(part.strip(" []") for part in value.split("] ["))


def load_ofac_csv(paths: Sequence[Path]) -> list[ListEntry]:
    """SDN.CSV plus, when given, ALT.CSV and ADD.CSV of the same release.

    SDN_COMMENTS.CSV (the remarks too long for SDN.CSV) may be given too. Each file is
    recognised by its column count (SDN 12, ALT 5, ADD 6, COMMENTS 2), so the order of the
    paths and the file names do not matter.
    """
    drafts: dict[str, _SdnDraft] = {}
    extra: list[tuple[Path, int, list[str]]] = []
    seen_sdn = False
    for path in paths:
        for line, row in _ofac_rows(path):
            if len(row) == 12:
                seen_sdn = True
                entry_id, name = row[0], row[1]
                if not entry_id.isdigit():
                    raise ListFormatError(
                        path, f"line {line}", f"ent_num {entry_id!r} is not a number"
                    )
                if not name:
                    raise ListFormatError(path, f"line {line}", "SDN_Name is empty")
                kind = _SDN_KINDS.get(row[2].casefold(), "other")
                drafts[entry_id] = _SdnDraft(entry_id, kind, name, _sdn_programs(row[3]), row[11])
            elif len(row) in (2, 5, 6):
                extra.append((path, line, row))
            else:
                raise ListFormatError(
                    path,
                    f"line {line}",
                    f"{len(row)} fields; SDN.CSV rows have 12, ALT.CSV 5, ADD.CSV 6, "
                    "SDN_COMMENTS.CSV 2",
                )
    if not seen_sdn:
        raise ListFormatError(
            ", ".join(str(p) for p in paths), "files", "no SDN.CSV rows (12 fields) found"
        )
    for path, line, row in extra:
        draft = drafts.get(row[0])
        if draft is None:
            if not row[0].isdigit():
                raise ListFormatError(path, f"line {line}", f"ent_num {row[0]!r} is not a number")
            continue  # an alias or address of an entry this release no longer lists
        if len(row) == 2:
            draft.remarks += row[1]  # the remark goes on where SDN.CSV cut it
        elif len(row) == 5:
            if row[3]:
                draft.aliases.append(row[3])
        else:
            address = ", ".join(part for part in row[2:5] if part)
            if address:
                draft.addresses.append(address)
            if row[4]:
                draft.countries.append(row[4])
    return [_sdn_entry(draft) for draft in drafts.values()]


def _sdn_entry(draft: _SdnDraft) -> ListEntry:
    remarks = draft.remarks
    births = [date for dob in _REMARK_DOB.findall(remarks) for date in parse_date(dob)]
    nationalities = [m.strip() for m in _REMARK_NATIONALITY.findall(remarks)]
    currency = [f"{ticker} {address}" for ticker, address in _REMARK_CURRENCY.findall(remarks)]
    return ListEntry(
        source="ofac-sdn",
        entry_id=draft.entry_id,
        kind=draft.kind,
        names=_unique([draft.name, *draft.aliases]),
        birth_dates=_unique(births),
        countries=_countries([*nationalities, *draft.countries]),
        programs=draft.programs,
        addresses=_unique([*draft.addresses, *currency]),
        remarks=remarks,
    )


# --- XML (OFAC sdn.xml, UN consolidated) -----------------------------------------------------


def _parse_xml(path: Path) -> ET.Element:
    text = _read_text(path)
    if "<!ENTITY" in text:
        # Neither publisher declares entities; refusing them keeps entity expansion bombs out.
        raise ListFormatError(path, "DOCTYPE", "entity declarations are not accepted")
    try:
        return ET.fromstring(text)
    except ET.ParseError as error:
        line, column = error.position
        raise ListFormatError(path, f"line {line} column {column}", f"not XML ({error})") from error


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element: ET.Element, name: str) -> ET.Element | None:
    for child in element:
        if _local(child.tag) == name:
            return child
    return None


def _children(element: ET.Element, name: str) -> list[ET.Element]:
    return [child for child in element if _local(child.tag) == name]


def _items(element: ET.Element, list_name: str, item_name: str) -> list[ET.Element]:
    container = _child(element, list_name)
    return [] if container is None else _children(container, item_name)


def _text(element: ET.Element | None, name: str | None = None) -> str:
    if element is not None and name is not None:
        element = _child(element, name)
    if element is None or element.text is None:
        return ""
    return " ".join(element.text.split())


def _joined(element: ET.Element, *names: str) -> str:
    return " ".join(part for part in (_text(element, name) for name in names) if part)


_XML_SDN_KINDS = {"individual": "person", "entity": "organization", "vessel": "vessel"}


def load_ofac_xml(path: Path) -> list[ListEntry]:
    """OFAC's sdn.xml: ``sdnList`` of ``sdnEntry``, whatever namespace the release uses."""
    root = _parse_xml(path)
    if _local(root.tag) != "sdnList":
        raise ListFormatError(path, f"<{_local(root.tag)}>", "the root element is not <sdnList>")
    entries: list[ListEntry] = []
    for position, element in enumerate(_children(root, "sdnEntry"), start=1):
        where = f"<sdnEntry> #{position}"
        uid = _text(element, "uid")
        if not uid:
            raise ListFormatError(path, where, "no <uid>")
        where = f"<sdnEntry> #{position} (uid {uid})"
        name = _joined(element, "firstName", "lastName")
        if not name:
            raise ListFormatError(path, where, "no <lastName>")
        sdn_type = _text(element, "sdnType").casefold()
        aliases = [
            _joined(aka, "firstName", "lastName") for aka in _items(element, "akaList", "aka")
        ]
        births = [
            date
            for item in _items(element, "dateOfBirthList", "dateOfBirthItem")
            for date in parse_date(_text(item, "dateOfBirth"))
        ]
        countries = [
            _text(item, "country")
            for list_name, item_name in (
                ("nationalityList", "nationality"),
                ("citizenshipList", "citizenship"),
                ("addressList", "address"),
            )
            for item in _items(element, list_name, item_name)
        ]
        addresses = [
            ", ".join(
                part
                for part in (
                    _joined(item, "address1", "address2", "address3"),
                    _joined(item, "city", "stateOrProvince", "postalCode"),
                    _text(item, "country"),
                )
                if part
            )
            for item in _items(element, "addressList", "address")
        ]
        currency = [
            f"{_text(item, 'idType').removeprefix('Digital Currency Address - ')} "
            f"{_text(item, 'idNumber')}"
            for item in _items(element, "idList", "id")
            if _text(item, "idType").startswith("Digital Currency Address")
        ]
        programs = [_text(item) for item in _items(element, "programList", "program")]
        entries.append(
            ListEntry(
                source="ofac-sdn",
                entry_id=uid,
                kind=_XML_SDN_KINDS.get(
                    sdn_type, "aircraft" if sdn_type == "aircraft" else "other"
                ),
                names=_unique([name, *aliases]),
                birth_dates=_unique(births),
                countries=_countries(countries),
                programs=_unique(programs),
                addresses=_unique([*addresses, *currency]),
                remarks=_text(element, "remarks"),
            )
        )
    return entries


def load_un_xml(path: Path) -> list[ListEntry]:
    """The UN Security Council consolidated list (``CONSOLIDATED_LIST``)."""
    root = _parse_xml(path)
    if _local(root.tag) != "CONSOLIDATED_LIST":
        raise ListFormatError(
            path, f"<{_local(root.tag)}>", "the root element is not <CONSOLIDATED_LIST>"
        )
    entries: list[ListEntry] = []
    for group, tag, kind in (
        ("INDIVIDUALS", "INDIVIDUAL", "person"),
        ("ENTITIES", "ENTITY", "organization"),
    ):
        container = _child(root, group)
        if container is None:
            continue
        for position, element in enumerate(_children(container, tag), start=1):
            entries.append(_un_entry(path, element, tag, kind, position))
    return entries


def _un_entry(path: Path, element: ET.Element, tag: str, kind: str, position: int) -> ListEntry:
    where = f"<{tag}> #{position}"
    data_id = _text(element, "DATAID")
    if not data_id:
        raise ListFormatError(path, where, "no <DATAID>")
    where = f"<{tag}> #{position} (DATAID {data_id})"
    name = _joined(element, "FIRST_NAME", "SECOND_NAME", "THIRD_NAME", "FOURTH_NAME")
    if not name:
        raise ListFormatError(path, where, "no <FIRST_NAME>")
    aliases = [_text(alias, "ALIAS_NAME") for alias in _children(element, f"{tag}_ALIAS")]
    original = _text(element, "NAME_ORIGINAL_SCRIPT")
    births: list[str] = []
    for item in _children(element, f"{tag}_DATE_OF_BIRTH"):
        if date := _text(item, "DATE"):
            births.extend(parse_date(date))
        elif year := _text(item, "YEAR"):
            births.extend(parse_date(year))
        elif (start := _text(item, "FROM_YEAR")) and (end := _text(item, "TO_YEAR")):
            births.extend(parse_date(f"{start} to {end}"))
    countries = [
        _text(value)
        for item in _children(element, "NATIONALITY")
        for value in _children(item, "VALUE")
    ]
    addresses: list[str] = []
    for item in _children(element, f"{tag}_ADDRESS"):
        countries.append(_text(item, "COUNTRY"))
        address = ", ".join(
            part
            for part in (
                _text(item, p) for p in ("STREET", "CITY", "STATE_PROVINCE", "ZIP_CODE", "COUNTRY")
            )
            if part
        )
        if address:
            addresses.append(address)
    for item in _children(element, f"{tag}_PLACE_OF_BIRTH"):
        countries.append(_text(item, "COUNTRY"))
    return ListEntry(
        source="un",
        entry_id=data_id,
        kind=kind,
        names=_unique([name, *aliases, original]),
        birth_dates=_unique(births),
        countries=_countries(countries),
        programs=_unique([_text(element, "UN_LIST_TYPE")]),
        addresses=_unique(addresses),
        remarks=_text(element, "COMMENTS1"),
    )


# --- OpenSanctions FollowTheMoney JSON lines -------------------------------------------------

_FTM_KINDS = {
    "Person": "person",
    "Organization": "organization",
    "Company": "organization",
    "LegalEntity": "organization",
    "PublicBody": "organization",
    "Vessel": "vessel",
    "Airplane": "aircraft",
}


def _strings(properties: dict[str, object], *names: str) -> list[str]:
    values: list[str] = []
    for name in names:
        raw = properties.get(name, [])
        if isinstance(raw, str):
            values.append(raw)
        elif isinstance(raw, list):
            values.extend(item for item in raw if isinstance(item, str))
    return values


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        with path.open(encoding="utf-8-sig") as handle:
            line_number = 0
            try:
                for line_number, line in enumerate(handle, start=1):
                    yield line_number, line
            except UnicodeDecodeError as error:
                raise ListFormatError(path, f"after line {line_number}", "not UTF-8") from error
    except OSError as error:
        raise ListFormatError(path, "file", f"cannot be read ({error.strerror})") from error


def load_ftm(path: Path) -> list[ListEntry]:
    """FollowTheMoney entities, one JSON object a line; schemas that are not a person,
    organisation, vessel or aircraft (addresses, sanctions, relations) are skipped. The file
    is read a line at a time (OpenSanctions' exports run to gigabytes)."""
    entries: list[ListEntry] = []
    for line_number, line in _lines(path):
        if not line.strip():
            continue
        where = f"line {line_number}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as error:
            raise ListFormatError(path, where, f"not JSON ({error.msg})") from error
        if not isinstance(data, dict):
            raise ListFormatError(path, where, "not a JSON object")
        schema, entity_id, properties = data.get("schema"), data.get("id"), data.get("properties")
        if not isinstance(schema, str) or not isinstance(entity_id, str) or not entity_id:
            raise ListFormatError(path, where, "an entity needs a string id and schema")
        if not isinstance(properties, dict):
            raise ListFormatError(path, where, f"entity {entity_id}: properties is not an object")
        kind = _FTM_KINDS.get(schema)
        if kind is None:
            continue
        names = _strings(properties, "name")
        if not names:
            first_last = " ".join(_strings(properties, "firstName", "lastName"))
            names = [first_last] if first_last.strip() else []
        if not names:
            raise ListFormatError(path, where, f"entity {entity_id}: no name")
        datasets = data.get("datasets")
        dataset = datasets[0] if isinstance(datasets, list) and datasets else None
        entries.append(
            ListEntry(
                source=f"ftm:{dataset}" if isinstance(dataset, str) else "ftm",
                entry_id=entity_id,
                kind=kind,
                names=_unique([*names, *_strings(properties, "alias", "previousName")]),
                birth_dates=_unique(
                    d for value in _strings(properties, "birthDate") for d in parse_date(value)
                ),
                countries=_countries(
                    _strings(properties, "nationality", "citizenship", "country", "jurisdiction")
                ),
                programs=_unique(_strings(properties, "program", "topics")),
                addresses=_unique(_strings(properties, "address")),
                remarks="; ".join(_strings(properties, "notes")),
            )
        )
    return entries


def detect_source(paths: Sequence[Path]) -> str:
    """The format of a list release from its files: CSV is OFAC's legacy SDN files, JSON lines
    are FollowTheMoney, XML is told apart by its root element (``sdnList`` or
    ``CONSOLIDATED_LIST``)."""
    if not paths:
        raise ListFormatError("(no file)", "arguments", "no list file given")
    first = paths[0]
    suffix = first.suffix.casefold()
    if suffix == ".csv":
        return "ofac-sdn"
    if suffix in (".json", ".jsonl", ".ndjson"):
        return "ftm"
    try:
        with first.open("rb") as handle:
            head = handle.read(4096).decode("utf-8", errors="replace")
    except OSError as error:
        raise ListFormatError(first, "file", f"cannot be read ({error.strerror})") from error
    if "CONSOLIDATED_LIST" in head:
        return "un-xml"
    if "sdnList" in head:
        return "ofac-xml"
    raise ListFormatError(
        first, "file", f"cannot tell the list format; name it with one of {', '.join(SOURCES)}"
    )
