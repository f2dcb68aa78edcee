"""Country names as sanctions lists write them, to ISO-3166 alpha-2 codes.

The lists spell countries their own way ("Iran (Islamic Republic of)", "Korea, North",
"China, Hong Kong Special Administrative Region"); pycountry knows the ISO names, and the
table below adds the spellings the UN and OFAC use that ISO does not.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

import pycountry

# Spellings seen in the UN consolidated list and OFAC's files that pycountry's names miss.
_EXTRA: dict[str, str] = {
    "democratic republic of the congo": "CD",
    "congo democratic republic of the": "CD",
    "congo democratic republic": "CD",
    "drc": "CD",
    "republic of the congo": "CG",
    "congo": "CG",
    "iran": "IR",
    "iran islamic republic of": "IR",
    "bolivia plurinational state of": "BO",
    "venezuela bolivarian republic of": "VE",
    "state of palestine": "PS",
    "palestine": "PS",
    "palestinian": "PS",
    "west bank": "PS",
    "gaza": "PS",
    "korea north": "KP",
    "north korea": "KP",
    "korea democratic people s republic of": "KP",
    "korea south": "KR",
    "south korea": "KR",
    "republic of korea": "KR",
    "korea republic of": "KR",
    "russia": "RU",
    "syria": "SY",
    "burma": "MM",
    "laos": "LA",
    "vietnam": "VN",
    "turkey": "TR",
    "turkiye": "TR",
    "ivory coast": "CI",
    "cote d ivoire": "CI",
    "czech republic": "CZ",
    "macedonia": "MK",
    "the former yugoslav republic of macedonia": "MK",
    "swaziland": "SZ",
    "cape verde": "CV",
    "libyan arab jamahiriya": "LY",
    "united republic of tanzania": "TZ",
    "tanzania": "TZ",
    "republic of moldova": "MD",
    "moldova": "MD",
    "kosovo": "XK",
    "united kingdom": "GB",
    "uk": "GB",
    "great britain": "GB",
    "united states": "US",
    "usa": "US",
    "british virgin islands": "VG",
    "china hong kong special administrative region": "HK",
    "hong kong": "HK",
    "china macao special administrative region": "MO",
    "taiwan": "TW",
    "vatican": "VA",
    "holy see": "VA",
    "micronesia": "FM",
    "brunei": "BN",
    "east timor": "TL",
    "the gambia": "GM",
    "gambia": "GM",
    "the bahamas": "BS",
    "bahamas": "BS",
    "netherlands antilles": "AN",
    "region crimea": "UA",
    "crimea": "UA",
}


def _key(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_only = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^a-z0-9]+", " ", ascii_only.casefold()).split())


@cache
def _table() -> dict[str, str]:
    table: dict[str, str] = {}
    for country in pycountry.countries:
        code = str(country.alpha_2)
        table[_key(str(country.alpha_3))] = code
        for attribute in ("name", "official_name", "common_name"):
            value = getattr(country, attribute, None)
            if isinstance(value, str):
                table[_key(value)] = code
    table.update(_EXTRA)
    return table


def country_code(text: str | None) -> str | None:
    """The ISO alpha-2 code of a country named or coded in ``text``; None when unknown.

    Accepts an alpha-2 or alpha-3 code in any case, the ISO names and the lists' spellings.
    """
    if not text:
        return None
    stripped = text.strip()
    if len(stripped) == 2 and stripped.isascii() and stripped.isalpha():
        upper = stripped.upper()
        return (
            upper if pycountry.countries.get(alpha_2=upper) is not None or upper == "XK" else None
        )
    return _table().get(_key(stripped))
