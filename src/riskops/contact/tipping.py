"""The tipping-off guard: what no message to an account holder may say (ADR 0033).

A customer must never learn that a suspicious activity report is being considered or was
filed, nor that authorities look at them. Every message riskops sends to a customer passes
``guard`` in ``contact.service.send`` (the one send function), every shipped template is
checked when it is loaded, and every rendering is checked again. ``guard`` checks the
fields that will be sent and only then makes the ``riskops.outbound.guarded.Guarded``
message that outbound's ``enqueue_customer`` requires: outbound refuses an email or SMS to
an account holder that did not come through here.

Two lists, in every language a template ships in (English, Spanish, Russian):

- ``ALWAYS``: words that name a report to, or an inquiry by, authorities (SAR, STR,
  suspicious activity / transaction report, FinCEN, FIU, law enforcement, "reported you",
  ...). No message to any customer may contain them.
- ``UNDER_SAR``: softer words that are harmless in general ("investigation", "flagged",
  "suspicious") but hint at the report when the account is under SAR consideration; refused
  only for such an account. Shipped templates avoid both lists, so any of them can be sent
  to anyone.

Matching is on a normalized text: Unicode compatibility forms folded (full-width letters),
diacritics and invisible characters dropped, case folded, every non-letter a space, runs
of single letters joined (``S. A. R.`` and ``f i n c e n`` read as ``sar`` and ``fincen``),
and Latin look-alike Cyrillic letters read both ways. A phrase is words separated by
spaces; a word ending in ``*`` is a stem (``подозрительн*`` matches every case ending).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from riskops.kernel.errors import Forbidden
from riskops.outbound import guarded
from riskops.outbound.models import Channel

REFUSED_REASON = (
    "the message would tip the customer off; rephrase it without mentioning reports,"
    " investigations or authorities"
)


class TippingOff(Forbidden):
    """A message that would reveal a report or an inquiry by authorities: refused (403,
    audited by the error renderers, ADR 0020). Names the fields, never the words."""

    code = "tipping_off"


# --- the lists (one place; keep each language's entries together) ------------------------

ALWAYS: dict[str, tuple[str, ...]] = {
    "en": (
        "sar",
        "sars",
        "str",
        "strs",
        "ctr",
        "suspicious activity report*",
        "suspicious transaction report*",
        "suspicious matter report*",
        "fincen",
        "financial crimes enforcement network",
        "fiu",
        "financial intelligence unit*",
        "goaml",
        "law enforcement",
        "police",
        "reported you",
        "reported your account",
        "reported to the authorities",
        "report you to",
        "reporting you",
        "authorities",
        "regulator*",
        "money laundering report*",
        "mlro",
        "tipping off",
        "national crime agency",
        "criminal investigation",
    ),
    "es": (
        "ros",
        "reporte* de operacion* sospechosa*",
        "informe* de operacion* sospechosa*",
        "reporte* de actividad* sospechosa*",
        "informe* de actividad* sospechosa*",
        "comunicacion* de operacion* sospechosa*",
        "uif",
        "unidad de informacion financiera",
        "unidad de inteligencia financiera",
        "sepblac",
        "fuerzas del orden",
        "fuerzas de seguridad",
        "policia*",
        "autoridad*",
        "fiscalia*",
        "lo hemos denunciado",
        "la hemos denunciado",
        "le hemos denunciado",
        "hemos reportado",
        "lo reportamos",
        "investigacion penal",
        "investigacion criminal",
        "blanqueo",
        "lavado de dinero",
    ),
    "ru": (
        "подозрительн* операци*",
        "подозрительн* деятельност*",
        "сообщени* о подозрительн*",
        "росфинмониторинг*",
        "финмониторинг*",
        "финансов* разведк*",
        "правоохранительн*",
        "полици*",
        "следствен*",
        "уголовн* дел*",
        "орган* власти",
        "уполномоченн* орган*",
        "сообщили о вас",
        "донесли на вас",
        "отмывани*",
    ),
}

UNDER_SAR: dict[str, tuple[str, ...]] = {
    "en": (
        "investigat*",
        "suspicious*",
        "suspect*",
        "flagged",
        "report*",
        "compliance",
        "monitoring",
        "money laundering",
        "laundering",
        "terrorist financing",
        "filed",
        "filing",
    ),
    "es": (
        "investiga*",
        "sospech*",
        "denuncia*",
        "report*",
        "informe*",
        "cumplimiento normativo",
        "supervision",
        "vigilancia",
    ),
    "ru": (
        "расследовани*",
        "проверк* со стороны",
        "подозрени*",
        "подозрительн*",
        "сообщени* о",
        "донос*",
        "комплаенс*",
        "мониторинг*",
    ),
}


# --- normalization --------------------------------------------------------------------

# Cyrillic letters that look Latin, and back: "SАR" written with a Cyrillic А is still SAR.
_CYR_TO_LAT = str.maketrans("асеорхукмтвн", "aceopxykmtbh")
_LAT_TO_CYR = str.maketrans("aceopxyk", "асеорхук")
_SINGLE_LETTERS = re.compile(r"(?<!\w)\w(?: \w)+(?!\w)")


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    kept = []
    for char in decomposed:
        category = unicodedata.category(char)
        if category == "Mn" or category == "Cf":  # diacritics, zero-width and direction marks
            continue
        kept.append(char if char.isalnum() else " ")
    words = " ".join("".join(kept).casefold().split())
    return _SINGLE_LETTERS.sub(lambda m: m.group(0).replace(" ", ""), words)


def normalized(text: str) -> tuple[str, ...]:
    """The forms a text is searched in: folded, and with look-alike letters read as Latin
    and as Cyrillic."""
    folded = _fold(text)
    forms = dict.fromkeys(
        (folded, _fold(folded.translate(_CYR_TO_LAT)), _fold(folded.translate(_LAT_TO_CYR)))
    )
    return tuple(forms)


def _pattern(phrase: str) -> str:
    parts = []
    for word in phrase.split():
        stem = word.endswith("*")
        folded = _fold(word.rstrip("*"))
        parts.append(re.escape(folded) + (r"\w*" if stem else r"(?!\w)"))
    return r"(?<!\w)" + r"\s".join(parts)


@lru_cache(maxsize=2)
def _compiled(strict: bool) -> tuple[tuple[str, re.Pattern[str]], ...]:
    lists = [ALWAYS, UNDER_SAR] if strict else [ALWAYS]
    return tuple(
        (lang, re.compile(_pattern(phrase)))
        for table in lists
        for lang, phrases in table.items()
        for phrase in phrases
    )


# --- the check ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Finding:
    """A forbidden phrase found: which list's language, and where (a field name)."""

    field: str
    language: str


def findings(fields: dict[str, str], *, under_sar: bool) -> list[Finding]:
    """Every field of a message that says what it may not. ``under_sar``: the account is
    under SAR consideration, so the softer list applies too. The phrase itself is not
    returned: an error must not echo it back (to a log, a screen, a customer)."""
    found: list[Finding] = []
    patterns = _compiled(under_sar)
    for name, text in fields.items():
        forms = normalized(text)
        for lang, pattern in patterns:
            if any(pattern.search(form) for form in forms):
                found.append(Finding(name, lang))
                break
    return found


def is_clean(text: str, *, under_sar: bool = True) -> bool:
    """True when ``text`` contains nothing of the lists (both, by default)."""
    return not findings({"text": text}, under_sar=under_sar)


def guard(
    *,
    channel: Channel,
    to: str,
    body: str,
    account_id: str,
    under_sar: bool,
    subject: str | None = None,
    html: str | None = None,
    reply_to: str | None = None,
    case_id: int | None = None,
) -> guarded.Guarded:
    """The message to the holder of ``account_id``, checked: these exact fields (an
    email's subject, text and HTML; an SMS's text) are what outbound sends. Raises
    ``TippingOff`` naming the fields that say what they may not (``$.subject``,
    ``$.text``, ``$.html``, ``$.sms``); the only maker of ``Guarded`` messages."""
    fields = (
        {"subject": subject or "", "text": body, "html": html or ""}
        if channel is Channel.EMAIL
        else {"sms": body}
    )
    found = findings(fields, under_sar=under_sar)
    if found:
        raise TippingOff(
            f"refused: {REFUSED_REASON}",
            details=[{"field": f"$.{f.field}", "reason": "restricted wording"} for f in found],
        )
    return guarded.issue(
        channel=channel,
        to=to,
        body=body,
        account_id=account_id,
        subject=subject,
        html=html,
        reply_to=reply_to,
        case_id=case_id,
    )
