"""OFAC's digital currency addresses are extracted at load, and intel reports them listed
through the provider the composition hands it (screening.addresses): the current versions
only, swapped when a list changes; a street address is never taken for a wallet."""

from __future__ import annotations

from pathlib import Path

from screening_store_fakes import LOADER, T0, sessions_of
from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from test_loaders import SDN, SDN_XML

from riskops.intel.schemas import AddressIntel
from riskops.intel.service import IntelService
from riskops.kernel.db import unit_of_work
from riskops.screening import lists, service
from riskops.screening.addresses import CATEGORY, listed_addresses
from riskops.screening.models import ListedAddress

XBT = "1AjZPMsnmpdK2Rv9KQNfMurTXinscVro9V"
ETH = "0x098B716B8Aaf21512996dC57EB0615e2383E2f96"


def _load(engine: Engine, source: str, path: Path) -> None:
    with unit_of_work(sessions_of(engine)) as session:
        service.load_list(session, LOADER, source, [path], name="ofac", now=T0)


def _address(intel: IntelService, value: str) -> AddressIntel:
    answer = intel.describe(value)
    assert isinstance(answer, AddressIntel), answer
    return answer


def test_only_currency_addresses_are_taken() -> None:
    entry = lists.ListEntry(
        "ofac-sdn",
        "1",
        "person",
        ("A",),
        addresses=(f"XBT {XBT}", "1 Main St, Damascus, Syria", "Flat 12 Block 4", "ETH 0x12"),
    )
    assert lists.currency_addresses(entry) == [("XBT", XBT)]


def test_a_listed_ofac_address_is_listed_in_intel_until_the_list_drops_it(
    engine: Engine, tmp_path: Path
) -> None:
    csv = tmp_path / "SDN.CSV"
    csv.write_bytes(SDN.encode())
    _load(engine, "ofac-sdn", csv)
    with sessions_of(engine)() as session:
        rows = session.scalars(select(ListedAddress)).all()
        assert [(r.entry_id, r.currency, r.address) for r in rows] == [("2674", "XBT", XBT)]

    intel = IntelService()
    book = listed_addresses(sessions_of(engine), intel.set_listed, every_s=0)
    found = _address(intel, XBT)
    assert found.listed is True
    assert [(x.list, x.category) for x in found.listings] == [("ofac", CATEGORY)]
    assert "2674" in (found.listings[0].reference or "")
    assert _address(intel, ETH).listed is False
    assert any("ofac #" in s.name for s in found.sources)

    # a new version of the list (the XML release) names another wallet: swapped
    xml = tmp_path / "sdn.xml"
    xml.write_text(SDN_XML, encoding="utf-8")
    _load(engine, "ofac-xml", xml)
    assert _address(intel, XBT).listed is True  # intel's cached answer, until the swap
    assert book.refresh() is True  # what the book's thread does every every_s seconds
    assert book.refresh() is False  # nothing changed since
    assert _address(intel, XBT).listed is False
    assert _address(intel, ETH.lower()).listed is True
    assert len(book) == 1


def test_loading_the_same_files_again_extracts_what_an_older_load_did_not(
    engine: Engine, tmp_path: Path
) -> None:
    csv = tmp_path / "SDN.CSV"
    csv.write_bytes(SDN.encode())
    _load(engine, "ofac-sdn", csv)
    with unit_of_work(sessions_of(engine)) as session:  # as a version stored before 0023
        session.execute(delete(ListedAddress))
    _load(engine, "ofac-sdn", csv)
    with sessions_of(engine)() as session:
        rows = session.scalars(select(ListedAddress)).all()
        assert [r.address for r in rows] == [XBT]
    _load(engine, "ofac-sdn", csv)  # once only
    with sessions_of(engine)() as session:
        assert len(session.scalars(select(ListedAddress)).all()) == 1
