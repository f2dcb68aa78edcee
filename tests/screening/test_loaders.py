"""The list loaders: OFAC SDN CSV and XML, the UN consolidated XML, FollowTheMoney JSON lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from riskops.screening.countries import country_code
from riskops.screening.lists import ListFormatError, detect_source, load, parse_date

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "sanctions"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="shared/data/sanctions not present")

# As OFAC publishes them: no header, CRLF, "-0- " for empty, quotes around text, Ctrl-Z last.
SDN = (
    '36,"AEROCARIBBEAN AIRLINES",-0- ,"CUBA",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n'
    '2674,"ABBAS, Abu","individual","SDT",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,'
    '"DOB 10 Dec 1948; POB Safad, Israel; nationality Syria; Digital Currency Address - XBT '
    '1AjZPMsnmpdK2Rv9KQNfMurTXinscVro9V; alt. DOB 1949."\r\n'
    '15036,"ALPHA STAR","vessel","IRAN",-0- ,-0- ,"Crude Oil Tanker",-0- ,-0- ,'
    '"Panama",-0- ,"IMO 9187629; ""quoted"" remark."\r\n'
    "\x1a"
)
ALT = (
    '2674,1,"aka","ZAIDAN, Muhammad",-0- \r\n'
    '36,2,"aka","AERO-CARIBBEAN",-0- \r\n'
    '9999,3,"aka","NOT LISTED ANY MORE",-0- \r\n'
    "\x1a"
)
ADD = '36,25,-0- ,"Havana","Cuba",-0- \r\n2674,26,"1 Main St","Damascus","Syria",-0- \r\n\x1a'


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def test_ofac_csv_reads_sdn_alt_and_add_in_any_order(tmp_path: Path) -> None:
    paths = [
        _write(tmp_path, "ADD.CSV", ADD),
        _write(tmp_path, "SDN.CSV", SDN),
        _write(tmp_path, "ALT.CSV", ALT),
    ]
    entries = {e.entry_id: e for e in load("ofac-sdn", paths)}
    assert set(entries) == {"36", "2674", "15036"}
    abbas = entries["2674"]
    assert abbas.source == "ofac-sdn"
    assert abbas.kind == "person"
    assert abbas.names == ("ABBAS, Abu", "ZAIDAN, Muhammad")
    assert abbas.birth_dates == ("1948-12-10", "1949")
    assert abbas.countries == ("SY",)
    assert "XBT 1AjZPMsnmpdK2Rv9KQNfMurTXinscVro9V" in abbas.addresses
    assert "1 Main St, Damascus, Syria" in abbas.addresses
    airline = entries["36"]
    assert airline.kind == "organization"
    assert airline.names == ("AEROCARIBBEAN AIRLINES", "AERO-CARIBBEAN")
    assert airline.programs == ("CUBA",)
    assert airline.remarks == ""  # "-0- " is empty, not the text "-0-"
    assert airline.countries == ("CU",)
    vessel = entries["15036"]
    assert vessel.kind == "vessel"
    assert vessel.remarks == 'IMO 9187629; "quoted" remark.'


def test_ofac_csv_without_the_ctrl_z_byte_reads_the_same(tmp_path: Path) -> None:
    with_z = load("ofac-sdn", [_write(tmp_path, "a.csv", SDN)])
    without = load("ofac-sdn", [_write(tmp_path, "b.csv", SDN.replace("\x1a", ""))])
    assert with_z == without


def test_ofac_csv_with_several_programs(tmp_path: Path) -> None:
    row = '6935,"JAISH-I-MOHAMMED",-0- ,"FTO] [SDGT",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n'
    (entry,) = load("ofac-sdn", [_write(tmp_path, "SDN.CSV", row)])
    assert entry.programs == ("FTO", "SDGT")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('36,"A",-0- ,"CUBA",-0- \r\n', "no SDN.CSV rows"),  # an ALT file alone
        ('x36,"A",-0- ,"CUBA",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n', "not a number"),
        ('36,"",-0- ,"CUBA",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n', "SDN_Name is empty"),
        ('36,"A",-0- ,"CUBA"\r\n', "4 fields"),
        ('36,"A\r\n', "not CSV"),
    ],
)
def test_malformed_ofac_csv_names_the_file_and_line(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = _write(tmp_path, "SDN.CSV", text)
    with pytest.raises(ListFormatError) as caught:
        load("ofac-sdn", [path])
    assert str(path) in caught.value.message
    assert problem in caught.value.message or problem in caught.value.where


def test_ofac_csv_line_numbers_count_from_one(tmp_path: Path) -> None:
    good = '36,"A",-0- ,"CUBA",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n'
    path = _write(tmp_path, "SDN.CSV", good + good.replace("36,", "x37,"))
    with pytest.raises(ListFormatError, match="line 2"):
        load("ofac-sdn", [path])


SDN_XML = """<?xml version="1.0" standalone="yes"?>
<sdnList xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xmlns="https://sanctionslistservice.ofac.treas.gov/api/PublicationPreview/exports/XML">
  <publshInformation><Publish_Date>12/01/2026</Publish_Date></publshInformation>
  <sdnEntry>
    <uid>2674</uid><lastName>ABBAS</lastName><firstName>Abu</firstName>
    <sdnType>Individual</sdnType>
    <programList><program>SDT</program></programList>
    <idList><id><uid>1</uid><idType>Digital Currency Address - ETH</idType>
      <idNumber>0x098B716B8Aaf21512996dC57EB0615e2383E2f96</idNumber></id></idList>
    <akaList><aka><uid>2</uid><type>a.k.a.</type><category>strong</category>
      <lastName>ZAIDAN</lastName><firstName>Muhammad</firstName></aka></akaList>
    <addressList><address><uid>3</uid><city>Damascus</city><country>Syria</country>
      </address></addressList>
    <nationalityList><nationality><uid>4</uid><country>Syria</country></nationality>
      </nationalityList>
    <dateOfBirthList><dateOfBirthItem><uid>5</uid><dateOfBirth>10 Dec 1948</dateOfBirth>
      </dateOfBirthItem></dateOfBirthList>
  </sdnEntry>
  <sdnEntry>
    <uid>36</uid><lastName>AEROCARIBBEAN AIRLINES</lastName><sdnType>Entity</sdnType>
    <programList><program>CUBA</program></programList>
  </sdnEntry>
</sdnList>
"""


def test_ofac_xml_reads_entries_in_ofacs_namespace(tmp_path: Path) -> None:
    entries = {e.entry_id: e for e in load("ofac-xml", [_write(tmp_path, "sdn.xml", SDN_XML)])}
    abbas = entries["2674"]
    assert abbas.names == ("Abu ABBAS", "Muhammad ZAIDAN")
    assert abbas.kind == "person"
    assert abbas.birth_dates == ("1948-12-10",)
    assert abbas.countries == ("SY",)
    assert "ETH 0x098B716B8Aaf21512996dC57EB0615e2383E2f96" in abbas.addresses
    assert entries["36"].kind == "organization"
    assert entries["36"].programs == ("CUBA",)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("<sdnList><sdnEntry><uid>1</uid>", "line 1"),
        ("<other/>", "<other>"),
        ("<sdnList><sdnEntry><lastName>X</lastName></sdnEntry></sdnList>", "#1"),
        ("<sdnList><sdnEntry><uid>7</uid></sdnEntry></sdnList>", "uid 7"),
        (
            '<!DOCTYPE x [<!ENTITY a "aaaa">]><sdnList>&a;</sdnList>',
            "DOCTYPE",
        ),
    ],
)
def test_malformed_ofac_xml_names_the_file_and_element(
    tmp_path: Path, text: str, where: str
) -> None:
    path = _write(tmp_path, "sdn.xml", text)
    with pytest.raises(ListFormatError) as caught:
        load("ofac-xml", [path])
    assert str(path) in caught.value.message
    assert where in caught.value.where


UN_XML = """<?xml version="1.0" encoding="UTF-8"?>
<CONSOLIDATED_LIST dateGenerated="2026-02-27T00:00:09.554Z">
  <INDIVIDUALS>
    <INDIVIDUAL>
      <DATAID>6908048</DATAID><FIRST_NAME>SADDAM</FIRST_NAME><SECOND_NAME>HUSSEIN</SECOND_NAME>
      <THIRD_NAME>AL-TIKRITI</THIRD_NAME><UN_LIST_TYPE>Iraq</UN_LIST_TYPE>
      <NAME_ORIGINAL_SCRIPT>صدام حسين التكريتي</NAME_ORIGINAL_SCRIPT>
      <NATIONALITY><VALUE>Iraq</VALUE></NATIONALITY>
      <INDIVIDUAL_ALIAS><QUALITY>Good</QUALITY><ALIAS_NAME>Abu Ali</ALIAS_NAME></INDIVIDUAL_ALIAS>
      <INDIVIDUAL_ALIAS><QUALITY/><ALIAS_NAME/></INDIVIDUAL_ALIAS>
      <INDIVIDUAL_ADDRESS><COUNTRY/></INDIVIDUAL_ADDRESS>
      <INDIVIDUAL_DATE_OF_BIRTH><TYPE_OF_DATE>EXACT</TYPE_OF_DATE><DATE>1937-04-28</DATE>
      </INDIVIDUAL_DATE_OF_BIRTH>
      <INDIVIDUAL_DATE_OF_BIRTH><TYPE_OF_DATE>BETWEEN</TYPE_OF_DATE><FROM_YEAR>1938</FROM_YEAR>
        <TO_YEAR>1940</TO_YEAR></INDIVIDUAL_DATE_OF_BIRTH>
      <INDIVIDUAL_PLACE_OF_BIRTH><CITY>al-Awja</CITY><COUNTRY>Iraq</COUNTRY>
      </INDIVIDUAL_PLACE_OF_BIRTH>
    </INDIVIDUAL>
  </INDIVIDUALS>
  <ENTITIES>
    <ENTITY>
      <DATAID>113458</DATAID><FIRST_NAME>AL-QAIDA</FIRST_NAME><UN_LIST_TYPE>Al-Qaida</UN_LIST_TYPE>
      <ENTITY_ALIAS><QUALITY>a.k.a.</QUALITY><ALIAS_NAME>The Base</ALIAS_NAME></ENTITY_ALIAS>
      <ENTITY_ADDRESS><CITY>Kabul</CITY><COUNTRY>Afghanistan</COUNTRY></ENTITY_ADDRESS>
    </ENTITY>
  </ENTITIES>
</CONSOLIDATED_LIST>
"""


def test_un_xml_reads_individuals_and_entities(tmp_path: Path) -> None:
    entries = {e.entry_id: e for e in load("un-xml", [_write(tmp_path, "un.xml", UN_XML)])}
    saddam = entries["6908048"]
    assert saddam.source == "un"
    assert saddam.kind == "person"
    assert saddam.names == ("SADDAM HUSSEIN AL-TIKRITI", "Abu Ali", "صدام حسين التكريتي")
    assert saddam.birth_dates == ("1937-04-28", "1938", "1939", "1940")
    assert saddam.countries == ("IQ",)
    assert saddam.programs == ("Iraq",)
    qaida = entries["113458"]
    assert qaida.kind == "organization"
    assert qaida.names == ("AL-QAIDA", "The Base")
    assert qaida.countries == ("AF",)
    assert qaida.addresses == ("Kabul, Afghanistan",)


def test_un_xml_without_a_dataid_names_the_element(tmp_path: Path) -> None:
    broken = UN_XML.replace("<DATAID>113458</DATAID>", "")
    with pytest.raises(ListFormatError, match=r"<ENTITY> #1"):
        load("un-xml", [_write(tmp_path, "un.xml", broken)])


def test_un_xml_that_is_not_xml_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(ListFormatError, match="line 3"):
        load("un-xml", [_write(tmp_path, "un.xml", "<CONSOLIDATED_LIST>\n<A>\n</B>\n")])


def _ftm(**entity: object) -> str:
    return json.dumps(entity)


def test_ftm_reads_people_and_companies_and_skips_other_schemas(tmp_path: Path) -> None:
    lines = [
        _ftm(
            id="NK-1",
            schema="Person",
            datasets=["us_ofac_sdn"],
            properties={
                "name": ["Vladimir Ivanov"],
                "alias": ["Владимир Иванов"],
                "birthDate": ["1970-03-04"],
                "nationality": ["ru"],
                "topics": ["sanction"],
            },
        ),
        _ftm(id="NK-2", schema="Company", properties={"name": ["Acme JSC"], "country": ["ua"]}),
        _ftm(id="NK-3", schema="Address", properties={"full": ["1 Main St"]}),
        "",
    ]
    entries = load("ftm", [_write(tmp_path, "e.jsonl", "\n".join(lines))])
    assert [e.entry_id for e in entries] == ["NK-1", "NK-2"]
    person, company = entries
    assert person.source == "ftm:us_ofac_sdn"
    assert person.names == ("Vladimir Ivanov", "Владимир Иванов")
    assert person.birth_dates == ("1970-03-04",)
    assert person.countries == ("RU",)
    assert company.kind == "organization"
    assert company.source == "ftm"
    assert company.countries == ("UA",)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        (_ftm(schema="Person", properties={}), "string id and schema"),
        (_ftm(id="x", schema="Person", properties=[]), "properties"),
        (_ftm(id="x", schema="Person", properties={"alias": ["A"]}), "no name"),
    ],
)
def test_malformed_ftm_names_the_file_and_line(tmp_path: Path, line: str, problem: str) -> None:
    good = _ftm(id="ok", schema="Person", properties={"name": ["A B"]})
    path = _write(tmp_path, "e.jsonl", good + "\n" + line + "\n")
    with pytest.raises(ListFormatError) as caught:
        load("ftm", [path])
    assert caught.value.where == "line 2"
    assert problem in caught.value.problem
    assert str(path) in caught.value.message


def test_unknown_source_and_missing_file_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ListFormatError, match="unknown source"):
        load("csv", [tmp_path / "x"])
    with pytest.raises(ListFormatError, match="cannot be read"):
        load("un-xml", [tmp_path / "missing.xml"])
    with pytest.raises(ListFormatError, match="at least one file"):
        load("un-xml", [])


def test_detect_source(tmp_path: Path) -> None:
    assert detect_source([_write(tmp_path, "SDN.CSV", SDN)]) == "ofac-sdn"
    assert detect_source([_write(tmp_path, "e.jsonl", "{}")]) == "ftm"
    assert detect_source([_write(tmp_path, "un.xml", UN_XML)]) == "un-xml"
    assert detect_source([_write(tmp_path, "sdn.xml", SDN_XML)]) == "ofac-xml"
    with pytest.raises(ListFormatError, match="cannot tell"):
        detect_source([_write(tmp_path, "x.xml", "<other/>")])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12 Mar 1965", ("1965-03-12",)),
        ("Mar 1965", ("1965-03",)),
        ("circa 1958", ("1958",)),
        ("1960 to 1962", ("1960", "1961", "1962")),
        ("1965-03-12", ("1965-03-12",)),
        ("1965", ("1965",)),
        ("unknown", ()),
        ("", ()),
    ],
)
def test_parse_date(text: str, expected: tuple[str, ...]) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Iran (Islamic Republic of)", "IR"),
        ("Democratic People's Republic of Korea", "KP"),
        ("China, Hong Kong Special Administrative Region", "HK"),
        ("Türkiye", "TR"),
        ("de", "DE"),
        ("DEU", "DE"),
        ("Atlantis", None),
        ("ZZ", None),
        ("", None),
    ],
)
def test_country_code(text: str, code: str | None) -> None:
    assert country_code(text) == code


@needs_shared
def test_the_shared_un_list_loads_whole() -> None:
    entries = load("un-xml", [SHARED / "un-consolidated-2026-02.xml"])
    assert sum(e.kind == "person" for e in entries) == 730
    assert sum(e.kind == "organization" for e in entries) == 273
    assert all(e.names and e.entry_id for e in entries)
    # Nationalities the UN writes its own way all resolve to a code.
    assert sum(1 for e in entries if e.countries) > 700


@needs_shared
def test_the_shared_ofac_excerpt_loads_whole() -> None:
    folder = SHARED / "ofac-sdn-excerpt"
    entries = load("ofac-sdn", [folder / "SDN.CSV", folder / "ALT.CSV", folder / "ADD.CSV"])
    assert len(entries) == 300
    assert sum(len(e.names) - 1 for e in entries) <= 375
    galindo = next(e for e in entries if e.entry_id == "4323")
    assert galindo.names == ("GALINDO, Gilmer Antonio", "GUZMAN TRUJILLO, Carlos Arturo")
    assert galindo.birth_dates == ("1948-12-28",)
    assert galindo.countries == ("CO",)


def test_ofac_csv_sdn_comments_continue_the_remarks(tmp_path: Path) -> None:
    sdn = '7,"PETROV, Ivan","individual","RU",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,"DOB 0"\r\n'
    comments = '7,"1 Feb 1970; nationality Russia."\r\n\x1a'
    (entry,) = load(
        "ofac-sdn",
        [_write(tmp_path, "SDN.CSV", sdn), _write(tmp_path, "SDN_COMMENTS.CSV", comments)],
    )
    assert entry.remarks == "DOB 01 Feb 1970; nationality Russia."
    assert entry.birth_dates == ("1970-02-01",)
    assert entry.countries == ("RU",)


def test_ftm_that_is_not_utf8_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    path.write_bytes(b'{"id": "a", "schema": "Person", "properties": {"name": ["\xff\xfe"]}}\n')
    with pytest.raises(ListFormatError, match="not UTF-8"):
        load("ftm", [path])
    with pytest.raises(ListFormatError, match="cannot be read"):
        load("ftm", [tmp_path / "missing.jsonl"])
