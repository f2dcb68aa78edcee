"""A labelled set of name variations built from the UN consolidated list (deterministic).

    python -m bench.screening_variations            # writes bench/out/screening_variations.csv

Positives take a listed name (or alias) and vary it the ways real screening input varies:
transliteration (spelling variants and Cyrillic script), word order, a missing middle name,
initials, typos, joined or split parts, diacritics, company suffixes, aliases; each with or
without the listed birth date and country (sometimes a birth year one off). Negatives are
true non-matches and decoys: the same surname with another first name, the same name with a
birth date decades apart, and random real-looking person and company names that share no
two parts with a listed name.

``synthetic_entries`` builds realistic filler entries (deterministically) so the matcher can
be measured against a 20,000-name list.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from riskops.screening.lists import ListEntry, load
from riskops.screening.normalise import tokens

ROOT = Path(__file__).resolve().parent.parent
UN_LIST = ROOT.parent / "shared" / "data" / "sanctions" / "un-consolidated-2026-02.xml"
OUT = Path(__file__).resolve().parent / "out"
SEED = 20260227

VARIATIONS = (
    "exact",
    "transliteration",
    "cyrillic",
    "word_order",
    "missing_middle",
    "initials",
    "typo",
    "joined_split",
    "diacritics",
    "company_suffix",
    "alias",
)
# Added for the matcher's follow-ups (issue 10), drawn with their own generator so the set
# above stays the same query for query: Korean romanisation swaps, a company form misspelled.
FOLLOWUP_VARIATIONS = ("korean", "company_misspelled")
NEGATIVES = ("same_surname", "birth_decades_apart", "random_person", "random_company")


@dataclass(frozen=True, slots=True)
class Labelled:
    query_id: str
    name: str
    birth_date: str
    country: str
    expected: str  # the entry_id a screener must return; "" for a non-match
    variation: str
    kind: str  # "person" | "organization": what the screening caller knows it screens


# Spelling variants that transliteration produces, each group one name.
_VARIANTS: tuple[tuple[str, ...], ...] = (
    ("mohammed", "muhammad", "mohamed", "mohammad", "muhammed", "mohamad"),
    ("ahmed", "ahmad", "akhmed"),
    ("hussein", "husayn", "hussain", "hossein", "husein"),
    ("hassan", "hasan"),
    ("abdul", "abdel", "abdoul"),
    ("abdullah", "abdallah", "abdulla"),
    ("rahman", "rehman", "rakhman"),
    ("yusuf", "yousef", "youssef", "yusif"),
    ("omar", "umar"),
    ("osama", "usama"),
    ("qaida", "qaeda"),
    ("aziz", "azeez"),
    ("khalid", "khaled", "halid"),
    ("mahmoud", "mahmud", "mahmood"),
    ("mustafa", "mostafa", "moustafa"),
    ("ibrahim", "ebrahim", "ibragim"),
    ("ali", "aly"),
    ("saeed", "said", "sayed"),
    ("jamal", "djamal", "gamal"),
    ("salim", "saleem", "selim"),
    ("rashid", "rasheed"),
    ("karim", "kareem"),
    ("aleksandr", "alexander", "aleksander"),
    ("sergei", "sergey", "serguei"),
    ("yevgeny", "evgeny", "evgeniy"),
    ("dmitri", "dmitry", "dmitriy"),
    ("yuri", "yury", "iouri"),
    ("kim", "gim"),
    ("jong", "chong"),
)
_VARIANT_OF = {name: group for group in _VARIANTS for name in group}

_RULES: tuple[tuple[str, str], ...] = (
    ("ou", "u"),
    ("ee", "i"),
    ("oo", "u"),
    ("q", "k"),
    ("ph", "f"),
    ("kh", "h"),
    ("y", "i"),
    ("dh", "d"),
    ("iy", "i"),
    ("j", "dj"),
)

_CYRILLIC: tuple[tuple[str, str], ...] = (
    ("shch", "щ"), ("kh", "х"), ("zh", "ж"), ("ch", "ч"), ("sh", "ш"), ("ts", "ц"),
    ("ya", "я"), ("yu", "ю"), ("yo", "ё"), ("a", "а"), ("b", "б"), ("v", "в"), ("g", "г"),
    ("d", "д"), ("e", "е"), ("z", "з"), ("i", "и"), ("y", "й"), ("k", "к"), ("l", "л"),
    ("m", "м"), ("n", "н"), ("o", "о"), ("p", "п"), ("r", "р"), ("s", "с"), ("t", "т"),
    ("u", "у"), ("f", "ф"), ("h", "х"), ("c", "к"), ("q", "к"), ("w", "в"), ("x", "кс"),
    ("j", "дж"),
)  # fmt: skip

_DIACRITICS = {"a": "á", "e": "é", "i": "ï", "o": "ö", "u": "ü", "c": "ç", "n": "ñ", "s": "ş"}

_SUFFIX_SWAPS: tuple[tuple[str, str], ...] = (
    ("limited", "ltd"),
    ("ltd", "limited"),
    ("company", "co"),
    ("co", "company"),
    ("corporation", "corp"),
    ("corp", "corporation"),
    ("joint stock company", "jsc"),
    ("llc", "limited liability company"),
    ("incorporated", "inc"),
)
_ADDED_SUFFIXES = ("LTD", "LLC", "JSC", "CO", "LIMITED", "COMPANY", "GMBH", "S.A.")

# Korean romanisations as the systems and people write them (our own list, kept apart from
# riskops.screening.normalise's table on purpose: a spelling the matcher does not know
# counts as a miss here).
_KOREAN_VARIANTS: tuple[tuple[str, ...], ...] = (
    ("kim", "gim"),
    ("ri", "lee", "yi", "rhee", "li"),
    ("pak", "park", "bak"),
    ("jong", "jeong", "chong", "chung", "jung"),
    ("choe", "choi"),
    ("chol", "cheol", "chul"),
    ("kang", "gang"),
    ("jang", "chang"),
    ("son", "sohn"),
    ("song", "seong", "sung"),
    ("yong", "yeong", "young"),
    ("ryu", "yu", "yoo"),
    ("hyon", "hyeon", "hyun"),
    ("kyong", "gyeong", "kyung"),
    ("chun", "jeon", "chon"),
    ("sok", "seok", "suk"),
    ("o", "oh"),
)
_KOREAN_OF = {v: group for group in _KOREAN_VARIANTS for v in group}
_MISSPELLED_FORMS = (
    ("company", ("compani", "compny", "comapny", "kompany")),
    ("limited", ("limted", "limitd", "limitted", "lmited")),
    ("corporation", ("corporaton", "corparation", "coporation")),
    ("incorporated", ("incorporeted", "incorprated")),
)

_KEYBOARD = "qwertyuiopasdfghjklzxcvbnm"


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# Given names and surnames from many cultures, for decoys and the synthetic 20k list.
_FIRST_A = _words(
    "James John Robert Michael William David Richard Joseph Thomas Charles Daniel Matthew "
    "Anthony Mark Donald Steven Paul Andrew Joshua Kenneth Kevin Brian George Timothy Ronald "
    "Jason Edward Jeffrey Ryan Jacob Gary Nicholas Eric Jonathan Stephen Larry Justin Scott "
    "Brandon Benjamin Samuel Gregory Frank Alexander Raymond Patrick Jack Dennis Jerry Tyler "
    "Aaron Jose Adam Nathan Henry Douglas Zachary Peter Kyle Walter Ethan Jeremy Harold Keith "
    "Christian Roger Noah Gerald Carl Terry Sean Austin Arthur Lawrence Jesse Dylan Bryan "
    "Joe Jordan Billy Bruce Albert Willie Gabriel Logan Alan Juan Wayne Roy Ralph Randy Eugene "
    "Vincent Russell Elijah Louis Bobby Philip Johnny Ivan Oleg Pavel Nikolai Viktor Mikhail "
    "Andrei Vladimir Boris Igor Anatoly Wei Jun Hao Lei Ming Tao Hiroshi Takeshi Kenji Satoshi "
    "Jin Seung Min Ji Hoon Arjun Rahul Vikram Sanjay Ravi Amit Carlos Luis Miguel Javier "
    "Diego Pedro Rafael Fernando Alejandro Pablo Mateo Hugo Lucas Enzo Louis Pierre Jean"
)
_FIRST_B = _words(
    "Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen Lisa Nancy Betty "
    "Margaret Sandra Ashley Kimberly Emily Donna Michelle Carol Amanda Dorothy Melissa Deborah "
    "Stephanie Rebecca Sharon Laura Cynthia Kathleen Amy Angela Shirley Anna Brenda Pamela "
    "Emma Nicole Helen Samantha Katherine Christine Debra Rachel Carolyn Janet Catherine Maria "
    "Heather Diane Ruth Julie Olivia Joyce Virginia Victoria Kelly Lauren Christina Joan "
    "Evelyn Judith Megan Andrea Cheryl Hannah Jacqueline Martha Gloria Teresa Ann Sara "
    "Madison Frances Kathryn Janice Jean Abigail Alice Judy Sophia Grace Denise Amber Doris "
    "Marilyn Danielle Beverly Isabella Theresa Diana Natalie Brittany Charlotte Marie Kayla "
    "Alexis Lori Olga Tatiana Svetlana Natalia Irina Elena Anastasia Yulia Mei Xiu Ling Yan "
    "Fang Yuki Sakura Aiko Hana Soo Priya Anjali Sunita Kavya Lucia Carmen Sofia Valentina "
    "Camila Isabel Paula Ines Chloe Camille Lea Manon Ingrid Astrid Freya Greta Heidi Johanna"
)
_SURNAMES = _words(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez "
    "Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White "
    "Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres "
    "Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts "
    "Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart Morris Morales "
    "Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos "
    "Kim Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray Mendoza Ruiz Hughes "
    "Price Alvarez Castillo Sanders Patel Myers Long Ross Foster Jimenez Powell Jenkins Perry "
    "Russell Sullivan Bell Coleman Butler Henderson Barnes Fisher Vasquez Simmons Romero "
    "Jordan Patterson Alexander Hamilton Graham Reynolds Griffin Wallace Moreno West Cole "
    "Hayes Bryant Herrera Gibson Ellis Tran Medina Aguilar Stevens Murray Ford Castro Marshall "
    "Owens Harrison Fernandez McDonald Woods Washington Kennedy Wells Vargas Henry Chen "
    "Freeman Webb Tucker Guzman Burns Crawford Olson Simpson Porter Hunter Gordon Mendez "
    "Silva Shaw Snyder Mason Dixon Munoz Hunt Hicks Holmes Palmer Wagner Black Robertson "
    "Boyd Rose Stone Salazar Fox Warren Mills Meyer Rice Schmidt Garza Daniels Ferguson "
    "Nichols Stephens Soto Weaver Ryan Gardner Payne Grant Dunn Ivanov Petrov Sidorov Smirnov "
    "Kuznetsov Popov Sokolov Lebedev Kozlov Novikov Morozov Volkov Wang Zhang Liu Yang Huang "
    "Zhao Zhou Wu Xu Sun Ma Zhu Hu Guo Lin He Gao Luo Tanaka Suzuki Takahashi Watanabe Ito "
    "Yamamoto Nakamura Kobayashi Kato Park Choi Jung Kang Cho Yoon Jang Lim Sharma Singh Kumar "
    "Gupta Mehta Reddy Nair Iyer Rao Joshi Muller Schneider Fischer Weber Becker Hoffmann "
    "Koch Richter Klein Wolf Neumann Schwarz Zimmermann Dubois Durand Leroy Moreau Simon "
    "Laurent Lefebvre Michel Bernard Rossi Russo Ferrari Esposito Bianchi Romano Colombo "
    "Ricci Marino Greco Bruno Gallo Conti Jansen Visser Bakker Smit Meijer Nowak Kowalski "
    "Wisniewski Wojcik Kaminski Lewandowski Nielsen Hansen Pedersen Andersen Larsen Johansson "
    "Karlsson Nilsson Eriksson Larsson Olsen Berg Haugen Virtanen Korhonen Makinen Nieminen"
)
_COMPANY_WORDS = _words(
    "Northwind Global Pacific Atlantic Summit Horizon Pioneer Silverline Bluewater Evergreen "
    "Redstone Ironbridge Clearview Brightpath Crescent Harbor Maple Granite Falcon Aurora "
    "Meridian Sterling Orion Vertex Nimbus Cobalt Willow Beacon Keystone Riverside Lakeshore "
    "Highland Sunrise Westgate Eastwood Northstar Southbay Crossroads Landmark Frontier"
)
_COMPANY_TRADES = _words(
    "Trading Logistics Shipping Holdings Industries Capital Ventures Technologies Foods "
    "Textiles Minerals Energy Consulting Engineering Pharma Motors Freight Imports Exports "
    "Construction Electronics Chemicals Agro Metals Marine Aviation Media Systems Partners"
)
_LEGAL_FORMS = ("LTD", "LLC", "INC", "GMBH", "S.A.", "JSC", "CO", "LIMITED", "CORP", "PLC", "")
_COUNTRIES = _words(
    "US GB DE FR IT ES NL PL SE NO FI DK RU UA CN JP KR IN BR MX AR CO TR EG NG ZA AE SA PK "
    "ID PH VN TH MY SG AU CA"
)


def un_entries() -> list[ListEntry]:
    return load("un-xml", [UN_LIST])


def _latin_names(entry: ListEntry) -> list[str]:
    return [name for name in entry.names if name.isascii() and len(tokens(name)) >= 1]


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 5:
        return word
    i = rng.randrange(1, len(word) - 1)
    action = rng.choice(("substitute", "delete", "insert", "transpose"))
    if action == "substitute":
        return word[:i] + rng.choice(_KEYBOARD.replace(word[i].lower(), "")) + word[i + 1 :]
    if action == "delete":
        return word[:i] + word[i + 1 :]
    if action == "insert":
        return word[:i] + rng.choice(_KEYBOARD) + word[i:]
    return word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :]


def _transliterate(rng: random.Random, parts: list[str]) -> list[str] | None:
    changed = False
    out = []
    for part in parts:
        low = part.lower()
        group = _VARIANT_OF.get(low)
        if group is not None:
            out.append(rng.choice([v for v in group if v != low]).capitalize())
            changed = True
        else:
            out.append(part)
    if changed:
        return out
    for _ in range(4):
        i = rng.randrange(len(parts))
        low = parts[i].lower()
        rules = [(a, b) for a, b in _RULES if a in low]
        if rules and len(low) >= 4:
            a, b = rng.choice(rules)
            out[i] = low.replace(a, b, 1).capitalize()
            return out
    return None


def _cyrillic(name: str) -> str:
    text = name.lower()
    out = []
    i = 0
    while i < len(text):
        for latin, cyr in _CYRILLIC:
            if text.startswith(latin, i):
                out.append(cyr)
                i += len(latin)
                break
        else:
            out.append(text[i])
            i += 1
    return "".join(out).title()


def _vary(rng: random.Random, entry: ListEntry, kind: str) -> str | None:
    names = _latin_names(entry)
    if not names:
        return None
    name = names[0]
    parts = name.replace(",", " ").split()
    person = entry.kind == "person"
    if kind == "exact":
        return name
    if kind == "transliteration":
        varied = _transliterate(rng, parts)
        return " ".join(varied) if varied else None
    if kind == "cyrillic":
        return _cyrillic(name) if person else None
    if kind == "word_order":
        if len(parts) < 2:
            return None
        if person:
            return " ".join([parts[-1], *parts[:-1]])
        shuffled = parts[:]
        while shuffled == parts:
            rng.shuffle(shuffled)
        return " ".join(shuffled)
    if kind == "missing_middle":
        if not person or len(parts) < 3:
            return None
        drop = rng.randrange(1, len(parts) - 1)
        return " ".join(parts[:drop] + parts[drop + 1 :])
    if kind == "initials":
        if not person or len(parts) < 2 or len(parts[0]) < 2:
            return None
        return " ".join([f"{parts[0][0]}.", *parts[1:]])
    if kind == "typo":
        candidates = [i for i, p in enumerate(parts) if len(p) >= 5]
        if not candidates:
            return None
        i = rng.choice(candidates)
        return " ".join([*parts[:i], _typo(rng, parts[i]), *parts[i + 1 :]])
    if kind == "joined_split":
        long = [i for i, p in enumerate(parts) if len(p) >= 8 and "-" not in p]
        if long and rng.random() < 0.4:
            i = rng.choice(long)
            cut = rng.randrange(3, len(parts[i]) - 3)
            return " ".join([*parts[:i], parts[i][:cut], parts[i][cut:], *parts[i + 1 :]])
        hyphenated = [i for i, p in enumerate(parts) if "-" in p]
        if hyphenated:
            i = rng.choice(hyphenated)
            return " ".join([*parts[:i], parts[i].replace("-", ""), *parts[i + 1 :]])
        if len(parts) >= 3:
            i = rng.randrange(len(parts) - 1)
            return " ".join([*parts[:i], parts[i] + parts[i + 1], *parts[i + 2 :]])
        return None
    if kind == "diacritics":
        chars = list(name.lower())
        spots = [i for i, c in enumerate(chars) if c in _DIACRITICS]
        if not spots:
            return None
        for i in rng.sample(spots, min(len(spots), rng.randint(1, 3))):
            chars[i] = _DIACRITICS[chars[i]]
        return "".join(chars).title()
    if kind == "company_suffix":
        if person:
            return None
        low = " " + name.lower().replace(".", "") + " "
        for long, short in _SUFFIX_SWAPS:
            if f" {long} " in low:
                return low.replace(f" {long} ", f" {short} ", 1).strip().upper()
        return f"{name} {rng.choice(_ADDED_SUFFIXES)}"
    if kind == "korean":
        syllables = [p.replace("-", " ").split() for p in parts]
        flat = [x for group in syllables for x in group]
        spots = [i for i, x in enumerate(flat) if x.lower() in _KOREAN_OF]
        if not person or len(spots) < 1 or len(spots) * 2 < len(flat):
            return None  # not a Korean name (most of its syllables are not in the table)
        for i in rng.sample(spots, rng.randint(1, len(spots))):
            low = flat[i].lower()
            flat[i] = rng.choice([v for v in _KOREAN_OF[low] if v != low]).capitalize()
        return " ".join(flat)
    if kind == "company_misspelled":
        if person:
            return None
        low = name.lower()
        for word, wrong in _MISSPELLED_FORMS:
            if f" {word}" in f" {low}":
                return low.replace(word, rng.choice(wrong), 1).upper()
        word, wrong = rng.choice(_MISSPELLED_FORMS)
        return f"{name} {rng.choice(wrong).upper()}"
    if kind == "alias":
        aliases = [n for n in names[1:] if len(tokens(n)) >= 2 or entry.kind != "person"]
        return rng.choice(aliases) if aliases else None
    raise ValueError(kind)


def _evidence(rng: random.Random, entry: ListEntry) -> tuple[str, str]:
    birth = ""
    if entry.birth_dates and rng.random() < 0.5:
        birth = rng.choice(entry.birth_dates)
        if rng.random() < 0.2 and len(birth) >= 4:
            birth = str(int(birth[:4]) + rng.choice((-1, 1)))  # a near year
    country = rng.choice(entry.countries) if entry.countries and rng.random() < 0.5 else ""
    return birth, country


def positives(
    entries: Sequence[ListEntry],
    rng: random.Random,
    per_kind: int,
    kinds: Sequence[str] = VARIATIONS,
) -> list[Labelled]:
    out: list[Labelled] = []
    for kind in kinds:
        pool = list(entries)
        rng.shuffle(pool)
        if kind == "korean":  # the UN list names few Koreans: several spellings of each
            pool *= 6
        made = 0
        seen: set[tuple[str, str]] = set()
        for entry in pool:
            if made >= per_kind:
                break
            name = _vary(rng, entry, kind)
            if not name or not tokens(name) or (entry.entry_id, name) in seen:
                continue
            seen.add((entry.entry_id, name))
            birth, country = _evidence(rng, entry)
            out.append(
                Labelled(f"p-{kind}-{made}", name, birth, country, entry.entry_id, kind, entry.kind)
            )
            made += 1
    return out


def _listed_token_sets(entries: Sequence[ListEntry]) -> list[frozenset[str]]:
    return [frozenset(tokens(name)) for entry in entries for name in entry.names]


def _shares_two_parts(name: str, listed: dict[str, list[frozenset[str]]]) -> bool:
    parts = set(tokens(name))
    for part in parts:
        for other in listed.get(part, ()):
            if len(parts & other) >= 2:
                return True
    return False


def negatives(entries: Sequence[ListEntry], rng: random.Random, per_kind: int) -> list[Labelled]:
    by_token: dict[str, list[frozenset[str]]] = {}
    for token_set in _listed_token_sets(entries):
        for token in token_set:
            by_token.setdefault(token, []).append(token_set)
    out: list[Labelled] = []
    people = [e for e in entries if e.kind == "person"]
    firsts = _FIRST_A + _FIRST_B

    made = 0
    pool = people[:]
    rng.shuffle(pool)
    for entry in pool * 3:
        if made >= per_kind:
            break
        names = _latin_names(entry)
        if not names:
            continue
        parts = names[0].replace(",", " ").split()
        if len(parts) < 2 or len(parts) > 3:
            continue
        first = rng.choice(firsts)
        name = " ".join([first, *parts[1:]])
        if _shares_two_parts(name, by_token):
            continue
        out.append(Labelled(f"n-same_surname-{made}", name, "", "", "", "same_surname", "person"))
        made += 1

    dated = [e for e in people if any(len(d) >= 4 for d in e.birth_dates) and _latin_names(e)]
    rng.shuffle(dated)
    for made, entry in enumerate((dated * 3)[:per_kind]):
        year = int(entry.birth_dates[0][:4]) + rng.choice((-1, 1)) * rng.randint(25, 45)
        date = f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        name = _latin_names(entry)[0]
        out.append(
            Labelled(
                f"n-birth_decades_apart-{made}", name, date, "", "", "birth_decades_apart", "person"
            )
        )

    made = 0
    while made < per_kind:
        # Only the second half of the given names: the synthetic 20k list uses the first.
        parts = [rng.choice(_FIRST_B)]
        if rng.random() < 0.3:
            parts.append(rng.choice(_FIRST_B))
        parts.append(rng.choice(_SURNAMES))
        name = " ".join(parts)
        if _shares_two_parts(name, by_token):
            continue
        birth = f"{rng.randint(1940, 2005)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        out.append(
            Labelled(
                f"n-random_person-{made}",
                name,
                birth if rng.random() < 0.5 else "",
                rng.choice(_COUNTRIES) if rng.random() < 0.5 else "",
                "",
                "random_person",
                "person",
            )
        )
        made += 1

    made = 0
    while made < per_kind:
        name = " ".join(
            part
            for part in (
                rng.choice(_COMPANY_WORDS[20:]),  # the synthetic list uses the first 20
                rng.choice(_COMPANY_TRADES),
                rng.choice(_LEGAL_FORMS),
            )
            if part
        )
        if _shares_two_parts(name, by_token):
            continue
        out.append(
            Labelled(f"n-random_company-{made}", name, "", "", "", "random_company", "organization")
        )
        made += 1
    return out


def variation_set(entries: Sequence[ListEntry] | None = None, seed: int = SEED) -> list[Labelled]:
    """About 2,400 positives (every variation kind), 1,200 negatives and the follow-ups'
    positives (Korean romanisation, a misspelled company form), from the UN list."""
    listed = list(entries) if entries is not None else un_entries()
    rng = random.Random(seed)
    followups = positives(listed, random.Random(seed + 2), 220, FOLLOWUP_VARIATIONS)
    return positives(listed, rng, per_kind=220) + negatives(listed, rng, per_kind=300) + followups


def synthetic_entries(names: int, seed: int = SEED) -> Iterator[ListEntry]:
    """Realistic filler entries, about ``names`` names in all (a fifth with an alias).

    Persons use only the first half of the given-name pool (the decoys use the other half
    too, so a random decoy is not accidentally a listed filler person).
    """
    rng = random.Random(seed + 1)
    made = 0
    number = 0
    while made < names:
        number += 1
        if rng.random() < 0.8:
            first = rng.choice(_FIRST_A)
            middle = [rng.choice(_FIRST_A)] if rng.random() < 0.3 else []
            name = " ".join([first, *middle, rng.choice(_SURNAMES)]).upper()
            aliases = [f"{first} {rng.choice(_SURNAMES)}".upper()] if rng.random() < 0.2 else []
            birth = (
                f"{rng.randint(1940, 2000)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
            )
            entry = ListEntry(
                "synthetic", f"S{number}", "person", (name, *aliases), birth,
                (rng.choice(_COUNTRIES),), ("SYN",),
            )  # fmt: skip
        else:
            name = " ".join(
                p
                for p in (
                    rng.choice(_COMPANY_WORDS[:20]),
                    rng.choice(_COMPANY_WORDS[:20]) if rng.random() < 0.3 else "",
                    rng.choice(_COMPANY_TRADES),
                    rng.choice(_LEGAL_FORMS),
                )
                if p
            ).upper()
            entry = ListEntry(
                "synthetic", f"S{number}", "organization", (name,), (), (rng.choice(_COUNTRIES),),
                ("SYN",),
            )  # fmt: skip
        made += len(entry.names)
        yield entry


def write_csv(rows: Sequence[Labelled], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ("id", "name", "birth_date", "country", "kind", "expected_entry_id", "variation")
        )
        for row in rows:
            writer.writerow(
                (
                    row.query_id,
                    row.name,
                    row.birth_date,
                    row.country,
                    row.kind,
                    row.expected,
                    row.variation,
                )
            )


def main() -> None:
    rows = variation_set()
    path = OUT / "screening_variations.csv"
    write_csv(rows, path)
    positive = sum(1 for r in rows if r.expected)
    print(f"{positive} positives, {len(rows) - positive} negatives -> {path}")


if __name__ == "__main__":
    main()
