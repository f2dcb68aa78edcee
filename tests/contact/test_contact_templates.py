"""Templates: shipped complete, rendered in a sandbox with strict variables and HTML
autoescaping, in the account's language with a fallback to English."""

from __future__ import annotations

import pytest

from riskops.contact import templating
from riskops.contact.templating import LANGUAGES, SAMPLE
from riskops.kernel.errors import ValidationFailed

KEYS = {
    "request_info",
    "restriction_applied",
    "restriction_lifted",
    "education_2fa",
    "education_antiphishing",
    "education_whitelist",
    "education_phishing",
    "custom",
}


def test_every_template_is_shipped_in_every_language() -> None:
    loaded = templating.templates()
    assert set(loaded) >= KEYS
    for template in loaded.values():
        assert set(template.sources) == set(LANGUAGES)


def test_html_is_escaped_and_text_is_not() -> None:
    values = dict(SAMPLE, details="<script>alert(1)</script> & co")
    rendered = templating.render(templating.get("request_info"), "en", values)
    assert "<script>" not in rendered.html and "&lt;script&gt;" in rendered.html
    assert "<script>alert(1)</script> & co" in rendered.text


@pytest.mark.parametrize(
    "trick",
    [
        "{{ name.__class__.__mro__ }}",
        "{{ ''.__class__.__base__.__subclasses__() }}",
        "{{ name.format.__globals__ }}",
        "{{ cycler.__init__.__globals__ }}",
    ],
    ids=range(4),
)
def test_the_sandbox_refuses_attribute_tricks(trick: str) -> None:
    template = templating.Template(
        "trick", "t", ("name",), {"en": dict.fromkeys(templating.PARTS, trick)}
    )
    with pytest.raises(ValidationFailed) as raised:
        templating.render(template, "en", {"name": "Ana"})
    assert "unsafe" in str(raised.value.details)  # refused, not rendered
    assert "<class" not in str(raised.value.details)  # no Python internals leak out


def test_a_missing_variable_is_a_clear_error() -> None:
    values = {k: v for k, v in SAMPLE.items() if k != "due_date"}
    with pytest.raises(ValidationFailed) as raised:
        templating.render(templating.get("request_info"), "es", values)
    assert "due_date" in str(raised.value.details)


def test_language_falls_back_to_english() -> None:
    assert templating.pick_language("ru") == ("ru", False)
    assert templating.pick_language("de") == ("en", True)
    assert templating.pick_language(None) == ("en", False)


def test_russian_and_spanish_render_their_own_text() -> None:
    ru = templating.render(templating.get("education_2fa"), "ru", dict(SAMPLE))
    es = templating.render(templating.get("education_2fa"), "es", dict(SAMPLE))
    assert "двухфакторн" in ru.text and "autenticación" in es.text
    assert ru.subject != es.subject


def test_every_sms_is_short() -> None:
    for template in templating.templates().values():
        for language in LANGUAGES:
            rendered = templating.render(template, language, dict(SAMPLE))
            assert 0 < len(rendered.sms) <= templating.SMS_MAX_CHARS
