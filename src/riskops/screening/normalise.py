"""Names to comparable tokens: one script, one case, one spelling of company forms.

``tokens(name)`` is what the matcher indexes and compares: NFKC, transliterated to Latin
(anyascii: Arabic, Cyrillic, Greek, Han, ...), diacritics gone, case folded, punctuation
dropped, company suffixes in one canonical form (LIMITED -> ltd, JOINT STOCK COMPANY -> jsc;
a form misspelled inside the name too: Compani -> co, Limted -> ltd). ``respell`` and
``phonetic`` give Korean romanisation variants one key (Gim / Kim, Yi / Rhee / Ri / Lee).
``phonetic(token)`` is a consonant skeleton that transliteration variants share
(Mohammed / Muhammad / محمد -> ``mhmd``, Aleksandr / Alexander -> ``alksndr``).

Every function takes any string (empty, 10,000 characters, any script) and returns a
result; none raises.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from anyascii import anyascii
from rapidfuzz.distance import OSA

# A name longer than this is not a name: the rest is cut before any work is done on it.
MAX_NAME_CHARS = 300
MAX_TOKENS = 12

# Company forms, longest first so "public joint stock company" wins over "joint stock company".
_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("public joint stock company", "pjsc"),
    ("closed joint stock company", "cjsc"),
    ("open joint stock company", "ojsc"),
    ("joint stock company", "jsc"),
    ("limited liability company", "llc"),
    ("limited liability partnership", "llp"),
    ("gesellschaft mit beschrankter haftung", "gmbh"),
    ("obshchestvo s ogranichennoy otvetstvennostyu", "ooo"),
    ("aktsionernoye obshchestvo", "ao"),
    ("aktsionernoe obshchestvo", "ao"),
    ("public limited company", "plc"),
    ("sociedad anonima", "sa"),
    ("societe anonyme", "sa"),
    ("sociedade anonima", "sa"),
    ("societa per azioni", "spa"),
    ("aktiengesellschaft", "ag"),
    ("incorporated", "inc"),
    ("corporation", "corp"),
    ("limitada", "ltda"),
    ("limited", "ltd"),
    ("company", "co"),
    ("s a s", "sas"),
    ("s a", "sa"),
)
_SUFFIX_PATTERNS = tuple(
    (re.compile(rf"(?<![a-z0-9]){re.escape(long)}(?![a-z0-9])"), short) for long, short in _SUFFIXES
)

COMPANY_FORMS = frozenset(
    {short for _, short in _SUFFIXES}
    | {"ltd", "co", "corp", "inc", "plc", "llc", "fze", "fzco", "bv", "nv", "oy", "ab", "as", "kg"}
    | {"srl", "spa", "sas", "pte", "pty", "sarl", "ooo", "zao", "oao", "pao"}
)

# Single-word company forms, for a form misspelled inside a name ("Compani", "Limted",
# "Corporaton"): a later part of a name within this many edits of one is that form.
_FORM_WORDS: tuple[tuple[str, str, int], ...] = (
    ("limited", "ltd", 1),
    ("company", "co", 1),
    ("corporation", "corp", 2),
    ("incorporated", "inc", 2),
    ("limitada", "ltda", 1),
    ("aktiengesellschaft", "ag", 2),
)

# Korean names romanised several ways (Revised Romanization, McCune-Reischauer, North
# Korea's own system and the spellings people choose: Kim / Gim, Lee / Yi / Rhee / Ri,
# Park / Pak / Bak, Jong / Jeong / Chong / Chung): each group has one respelled and one
# phonetic key, its first spelling's, so the index finds the variants (candidates) and the
# scorer pairs them (respelled-equal). The part itself is kept: an initial (R. for Ri) and
# parts written together (Pakmun for Pak Mun) still meet the name as listed. The table
# holds surnames and the given-name syllables that vary most; a syllable it lacks still
# meets its variant through the other keys and the close-spelling score. Some spellings
# are also other names (Chang, Young, Son): they share the group's keys on both sides,
# which costs a little precision only where two parts of a name are in the table.
_KOREAN: tuple[tuple[str, ...], ...] = (
    ("kim", "gim"),
    ("lee", "yi", "rhee", "ri", "rhie", "yee", "rie"),
    ("park", "pak", "bak", "pack"),
    ("jong", "jeong", "chong", "chung", "jung", "cheong"),
    ("choi", "choe", "chwe", "choy"),
    ("kang", "gang"),
    ("cho", "jo", "joe"),
    ("yoon", "yun", "youn"),
    ("jang", "chang"),
    ("lim", "im", "rim"),
    ("shin", "sin", "shinn"),
    ("kwon", "gwon"),
    ("hwang", "whang"),
    ("jeon", "chon", "chun", "jon"),
    ("ko", "go", "koh"),
    ("moon", "mun"),
    ("yang", "ryang"),
    ("son", "sohn"),
    ("bae", "pae"),
    ("baek", "paek", "paik", "baik"),
    ("seo", "suh"),
    ("sung", "seong"),
    ("young", "yeong", "yong"),
    ("chol", "cheol", "chul"),
    ("seok", "suk", "sok"),
    ("joo", "ju"),
    ("yu", "ryu", "yoo"),
    ("jin", "chin"),
    ("dong", "tong"),
    ("gyeong", "kyong", "kyung", "kyeong"),
    ("hyun", "hyeon", "hyon"),
    ("il", "ill"),
)
KOREAN_SPELLING = {variant: group[0] for group in _KOREAN for variant in group}

# Titles and particles: they are compared like any token but carry little weight.
PARTICLES = frozenset(
    {
        "al", "el", "ul", "ud", "ur", "bin", "ibn", "bint", "bn", "binti", "de", "da", "di",
        "del", "della", "van", "von", "der", "den", "la", "le", "y", "e", "mr", "mrs", "ms",
        "dr", "haji", "hajji", "alhaj", "mullah", "mulla", "maulavi", "maulvi", "mawlawi",
        "sheikh", "shaykh", "shaikh", "qari", "sayed", "sayyid", "syed", "the", "of", "and",
    }
)  # fmt: skip


def _is_han(char: str) -> bool:
    code = ord(char)
    return 0x3400 <= code <= 0x9FFF or 0xF900 <= code <= 0xFAFF or 0x20000 <= code <= 0x2FA1F


def _transliterate(text: str) -> str:
    if text.isascii():
        return text
    # anyascii writes a run of Han characters as one word ("XiJinPing"); each Han character
    # is a syllable, so it gets its own token and the matcher rejoins parts where needed.
    out: list[str] = []
    for char in text:
        if char.isascii():
            out.append(char)
        elif _is_han(char):
            out.append(f" {anyascii(char)} ")
        else:
            out.append(anyascii(char))
    return "".join(out)


@lru_cache(maxsize=65_536)
def fold(name: str) -> str:
    """``name`` in lower-case Latin letters and digits separated by single spaces."""
    text = unicodedata.normalize("NFKC", name[:MAX_NAME_CHARS])
    text = _transliterate(text).casefold()
    # Apostrophes join (O'Brien, Sa'd, Jama'at); other punctuation separates.
    text = re.sub(r"['`’‘ʼʻ]", "", text)
    text = re.sub(r"[^a-z0-9]+", " ", text)
    return " ".join(text.split())


@lru_cache(maxsize=65_536)
def tokens(name: str) -> tuple[str, ...]:
    """The comparable parts of ``name``: folded, company forms canonical, at most MAX_TOKENS."""
    text = fold(name)
    if not text:
        return ()
    for pattern, short in _SUFFIX_PATTERNS:
        text = pattern.sub(short, text)
    parts = _join_letters(text.split())
    out = [form for i, part in enumerate(parts) for form in _canonical(part, i)]
    return tuple(out[:MAX_TOKENS])


def _canonical(part: str, position: int) -> tuple[str, ...]:
    """A company form written onto the part before it (TRADINGCORPORATION) apart, and one
    misspelled after the first part (Compani), as the form."""
    for word, short, _ in _FORM_WORDS:
        if len(part) >= len(word) + 3 and part.endswith(word):
            return (part[: -len(word)], short)
    return (_misspelled_form(part, position),)


def _misspelled_form(part: str, position: int) -> str:
    if position > 0 and len(part) >= 5 and part not in COMPANY_FORMS:
        for word, short, edits in _FORM_WORDS:
            if abs(len(part) - len(word)) <= edits and (
                OSA.distance(part, word, score_cutoff=edits) <= edits
            ):
                return short
    return part


def _join_letters(parts: list[str]) -> list[str]:
    """A company form written letter by letter ("J.S.C." -> j s c) as one token (jsc);
    other runs of single letters (a person's initials) stay apart."""
    out: list[str] = []
    i = 0
    while i < len(parts):
        j = i
        while j < len(parts) and len(parts[j]) == 1:
            j += 1
        if j - i >= 2 and "".join(parts[i:j]) in COMPANY_FORMS:
            out.append("".join(parts[i:j]))
            i = j
        else:
            out.append(parts[i])
            i += 1
    return out


_VOWELS = frozenset("aeiouy")
# Applied in this order: Cyrillic "х" comes out as "kh" where Latin spellings write "h",
# so kh -> h must run before dzh and dh see it ("Джадхран" -> dzhadkhran -> jadran).
_DIGRAPHS: tuple[tuple[str, str], ...] = (
    ("sch", "S"),
    ("tch", "C"),
    ("shch", "S"),
    ("kh", "h"),
    ("dzh", "j"),
    ("dj", "j"),
    ("zh", "j"),
    ("gh", "g"),
    ("ph", "f"),
    ("th", "t"),
    ("dh", "d"),
    ("sh", "S"),
    ("ch", "C"),
    ("ck", "k"),
    ("x", "ks"),
    ("c", "k"),
    ("q", "k"),
    ("w", "v"),
    ("z", "s"),
    ("ou", "u"),
    ("ee", "i"),
    ("oo", "u"),
    ("y", "i"),
)


@lru_cache(maxsize=65_536)
def respell(token: str) -> str:
    """``token`` with the letters transliterations swap made one (kh/h, q/k, ph/f, w/v, ou/u,
    y/i ...) and repeats collapsed, vowels kept: short parts compare on this (Kho / Ho,
    Iu / Yu), where a skeleton without vowels would say too little."""
    word = KOREAN_SPELLING.get(token, token)
    for long, short in _DIGRAPHS:
        word = word.replace(long, short)
    out: list[str] = []
    for char in word:
        if not out or char != out[-1]:
            out.append(char)
    return "".join(out).lower()


@lru_cache(maxsize=65_536)
def phonetic(token: str) -> str:
    """A consonant skeleton for transliteration variants of one token.

    Digraphs and letters that transliterations swap (kh/k, q/k, ph/f, x/ks, w/v, z/s) are
    merged (``respell``), vowels dropped (a leading vowel or ``y`` + vowel becomes ``a``),
    repeats collapsed. Digits are kept as they are.
    """
    if not token:
        return ""
    word = KOREAN_SPELLING.get(token, token)
    if len(word) > 1 and word[0] == "y" and word[1] in _VOWELS:
        word = word[1:]
    for long, short in _DIGRAPHS:
        word = word.replace(long, short)
    word = word.lower()
    head = "a" if word[0] in _VOWELS else word[0]
    out = [head]
    for char in word[1:]:
        if char in _VOWELS:
            continue
        if char != out[-1]:
            out.append(char)
    return "".join(out)


def is_initial(token: str) -> bool:
    """A single letter, as an initial is written once punctuation is gone."""
    return len(token) == 1 and token.isalpha()
