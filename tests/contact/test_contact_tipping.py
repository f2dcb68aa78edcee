"""The tipping-off guard: every template passes it, and free text that reveals a report or
an inquiry by authorities does not, in every language shipped and in disguise."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskops.contact import templating, tipping
from riskops.contact.templating import LANGUAGES, PARTS, SAMPLE
from riskops.outbound.guarded import Guarded
from riskops.outbound.models import Channel

ALWAYS_REFUSED = [
    "We filed a SAR about your account.",
    "An STR was sent.",
    "This is about a suspicious activity report.",
    "Suspicious Transaction Reports are mandatory.",
    "We have informed FinCEN.",
    "The FIU asked us.",
    "law  enforcement requested data",
    "LAW-ENFORCEMENT",
    "We reported you to the police.",
    "s.a.r. pending",
    "S A R",
    "f i n c e n",
    "ＳＡＲ was filed",  # full-width letters
    "SАR was filed",  # a Cyrillic А
    "Fin\u200bCEN",  # a zero-width space
    # Spanish, with and without diacritics
    "Enviamos un reporte de operación sospechosa.",
    "reporte de operacion sospechosa",
    "REPORTES DE OPERACIONES SOSPECHOSAS",
    "La Unidad de Información Financiera nos pidió datos.",
    "Hemos informado a la policía.",
    "las autoridades competentes",
    "lo hemos denunciado",
    # Russian, in several case endings
    "Мы направили сообщение о подозрительной операции.",
    "подозрительных операциях",
    "Данные переданы в Росфинмониторинг.",
    "правоохранительные органы запросили",
    "полиция",
    "пoлиция",  # a Latin o
]
ONLY_UNDER_SAR = [
    "Your account is under investigation.",
    "We noticed suspicious logins.",
    "Your account was flagged.",
    "Estamos investigando su cuenta.",
    "Su cuenta está bajo sospecha.",
    "Идёт расследование по вашему аккаунту.",
    "подозрительный вход",
]
FINE = [
    "Please send a copy of a recent bank statement.",
    "Your withdrawal is on its way.",
    "Necessary documents: passport.",  # contains "sar" inside a word
    "Trust your instincts.",  # contains "str" inside a word
    "Por favor envíe un extracto bancario.",
    "Пожалуйста, пришлите выписку из банка.",
    "Rosa, thanks for your reply.",  # "ros" inside a word
]


@pytest.mark.parametrize("text", ALWAYS_REFUSED, ids=range(len(ALWAYS_REFUSED)))
def test_words_naming_a_report_are_refused_for_everyone(text: str) -> None:
    assert not tipping.is_clean(text, under_sar=False)
    assert not tipping.is_clean(text, under_sar=True)


@pytest.mark.parametrize("text", ONLY_UNDER_SAR, ids=range(len(ONLY_UNDER_SAR)))
def test_softer_words_are_refused_only_under_sar(text: str) -> None:
    assert tipping.is_clean(text, under_sar=False)
    assert not tipping.is_clean(text, under_sar=True)


@pytest.mark.parametrize("text", FINE, ids=range(len(FINE)))
def test_ordinary_requests_pass(text: str) -> None:
    assert tipping.is_clean(text, under_sar=True)


@pytest.mark.parametrize("key", sorted(templating.templates()), ids=str)
@pytest.mark.parametrize("language", LANGUAGES, ids=str)
def test_every_template_in_every_language_and_part_passes_both_lists(
    key: str, language: str
) -> None:
    rendered = templating.render(templating.get(key), language, dict(SAMPLE))
    for part in PARTS:
        assert tipping.findings({part: rendered.parts()[part]}, under_sar=True) == []


def test_a_finding_names_the_field_not_the_phrase() -> None:
    found = tipping.findings({"subject": "ok", "text": "we told FinCEN"}, under_sar=False)
    assert [f.field for f in found] == ["text"]
    assert "fincen" not in repr(found).lower()


def test_a_template_with_forbidden_words_does_not_load() -> None:
    source = "[meta]\ntitle='x'\n" + "".join(
        f"[{lang}]\nsubject='s'\ntext='We filed a SAR'\nhtml='h'\nsms='s'\n" for lang in LANGUAGES
    )
    with pytest.raises(templating.TemplateBroken, match="tipping-off words in text"):
        templating._load_one("bad", source)


@settings(max_examples=60, deadline=None)
@given(
    word=st.sampled_from(["sar", "fincen", "law enforcement", "policía", "полиция"]),
    upper=st.lists(st.booleans(), min_size=20, max_size=20),
    sep=st.sampled_from([" ", "  ", "\n", "\t", " - ", "_"]),
    before=st.sampled_from(["", "Note: ", "Hola. ", "Итак, "]),
)
def test_case_and_spacing_do_not_hide_a_word(
    word: str, upper: list[bool], sep: str, before: str
) -> None:
    cased = "".join(c.upper() if u else c for c, u in zip(word, upper * 3, strict=False))
    text = before + sep.join(cased.split(" ")) + "."
    assert not tipping.is_clean(text, under_sar=False)


@pytest.mark.parametrize(
    ("channel", "fields", "refused"),
    [
        (Channel.EMAIL, {"subject": "Our SAR", "body": "ok", "html": "<p>ok</p>"}, ["$.subject"]),
        (Channel.EMAIL, {"subject": "Hi", "body": "ok", "html": "<p>FinCEN</p>"}, ["$.html"]),
        (Channel.SMS, {"body": "the police asked"}, ["$.sms"]),
    ],
    ids=["email-subject", "email-html", "sms"],
)
def test_the_guard_refuses_naming_the_field_and_issues_nothing(
    channel: Channel, fields: dict[str, str], refused: list[str]
) -> None:
    to = "ana@example.com" if channel is Channel.EMAIL else "+34600111222"
    with pytest.raises(tipping.TippingOff) as err:
        tipping.guard(
            channel=channel,
            to=to,
            account_id="acc-1",
            under_sar=False,
            subject=fields.get("subject"),
            body=fields["body"],
            html=fields.get("html"),
        )
    assert [d["field"] for d in err.value.details] == refused


def test_the_guard_issues_the_message_it_checked() -> None:
    reply = "reply+c9-abcdefghijklmnop@reply.example.test"
    hint = "We are investigating a login."
    with pytest.raises(tipping.TippingOff):  # the softer list, for an account under SAR
        tipping.guard(
            channel=Channel.SMS, to="+34600111222", body=hint, account_id="a", under_sar=True
        )
    message = tipping.guard(
        channel=Channel.EMAIL,
        to="ana@example.com",
        subject="Your account",
        body=hint,
        html=f"<p>{hint}</p>",
        reply_to=reply,
        account_id="acc-1",
        case_id=9,
        under_sar=False,
    )
    assert isinstance(message, Guarded)
    assert (message.to, message.subject, message.body, message.reply_to, message.case_id) == (
        "ana@example.com",
        "Your account",
        hint,
        reply,
        9,
    )
