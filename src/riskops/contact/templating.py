"""Message templates: loaded from the package's TOML files, rendered in a Jinja sandbox.

One file per template (``templates/<key>.toml``): a ``[meta]`` table (title, the variables
it uses) and one table per language (``en``, ``es``, ``ru``) holding the four parts:
``subject``, ``text`` and ``html`` for email, ``sms`` for a text message. Every template
has every language and part; loading checks that, compiles each part, renders it with
sample values (a missing variable is an error then, not when a customer waits) and runs
it through the tipping-off guard (``contact.tipping``).

Rendering uses ``jinja2.sandbox.SandboxedEnvironment`` (no attribute tricks reach Python
internals), ``StrictUndefined`` (a variable not given is an error naming it) and
autoescaping for the HTML part only. The values given are plain strings, already masked.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Final

from jinja2 import StrictUndefined, TemplateError, UndefinedError
from jinja2 import Template as JinjaTemplate
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from riskops.contact import tipping
from riskops.kernel.errors import ValidationFailed

LANGUAGES: Final = ("en", "es", "ru")
DEFAULT_LANGUAGE: Final = "en"
PARTS: Final = ("subject", "text", "html", "sms")
EMAIL_PARTS: Final = ("subject", "text", "html")
SMS_MAX_CHARS: Final = 320  # two concatenated GSM segments; a Cyrillic SMS is shorter
CUSTOM: Final = "custom"
REQUEST_INFO: Final = "request_info"

_text_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
_html_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=True)


class TemplateBroken(Exception):
    """A shipped template is unusable (a packaging defect): raised at load."""


@dataclass(frozen=True, slots=True)
class Template:
    key: str
    title: str
    variables: tuple[str, ...]
    sources: dict[str, dict[str, str]]  # language -> part -> Jinja source


@dataclass(frozen=True, slots=True)
class Rendered:
    """One message in one language: the email parts and the SMS text."""

    key: str
    language: str
    subject: str
    text: str
    html: str
    sms: str

    def parts(self) -> dict[str, str]:
        return {"subject": self.subject, "text": self.text, "html": self.html, "sms": self.sms}


SAMPLE: Final = {
    "name": "Ana",
    "account_ref": "acc-****123",
    "details": "A copy of a recent bank statement.",
    "due_date": "2026-01-31",
    "restriction": "withdrawals",
    "subject": "About your account",
    "message": "Please confirm your latest withdrawal.",
}


def _load_one(key: str, raw: str) -> Template:
    data = tomllib.loads(raw)
    meta = data.get("meta", {})
    sources: dict[str, dict[str, str]] = {}
    for language in LANGUAGES:
        table = data.get(language)
        if not isinstance(table, dict):
            raise TemplateBroken(f"template {key}: no [{language}] table")
        missing = [p for p in PARTS if not isinstance(table.get(p), str)]
        if missing:
            raise TemplateBroken(f"template {key} [{language}]: missing {', '.join(missing)}")
        sources[language] = {p: str(table[p]) for p in PARTS}
        found = tipping.findings(sources[language], under_sar=True)
        if found:  # the phrase is not named: it must not travel further than the file
            names = ", ".join(f.field for f in found)
            raise TemplateBroken(f"template {key} [{language}]: tipping-off words in {names}")
    template = Template(key, str(meta.get("title", key)), tuple(meta.get("variables", ())), sources)
    for language in LANGUAGES:
        rendered = render(template, language, dict(SAMPLE))
        if len(rendered.sms) > SMS_MAX_CHARS:
            raise TemplateBroken(f"template {key} [{language}]: the SMS is too long")
    return template


@lru_cache(maxsize=1)
def templates() -> dict[str, Template]:
    """Every shipped template by key, loaded and checked once per process."""
    folder = resources.files("riskops.contact").joinpath("templates")
    found: dict[str, Template] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            key = entry.name.removesuffix(".toml")
            found[key] = _load_one(key, entry.read_text(encoding="utf-8"))
    return found


def get(key: str) -> Template:
    """The template ``key``; ValidationFailed naming the known keys otherwise."""
    found = templates().get(key)
    if found is None:
        raise ValidationFailed(
            f"no template {key!r}",
            details=[{"field": "$.template", "reason": f"one of {', '.join(templates())}"}],
        )
    return found


def pick_language(wanted: str | None) -> tuple[str, bool]:
    """The language to render in, and whether it fell back to English."""
    if wanted in LANGUAGES:
        return str(wanted), False
    return DEFAULT_LANGUAGE, wanted is not None and wanted != DEFAULT_LANGUAGE


@lru_cache(maxsize=512)
def _compiled(html: bool, source: str) -> JinjaTemplate:
    """A part's source compiled once per process (the sources are the shipped files)."""
    return (_html_env if html else _text_env).from_string(source)


def render(template: Template, language: str, values: dict[str, str]) -> Rendered:
    """All four parts in ``language``; ValidationFailed naming a missing variable or a
    refused construct (the sandbox), never a stack trace."""
    parts: dict[str, str] = {}
    for part, source in template.sources[language].items():
        try:
            parts[part] = _compiled(part == "html", source).render(**values).strip()
        except UndefinedError as exc:
            raise ValidationFailed(
                f"template {template.key} needs a value the message does not have",
                details=[{"field": f"$.{part}", "reason": str(exc.message or exc)}],
            ) from None
        except SecurityError as exc:
            raise ValidationFailed(
                f"template {template.key}: refused by the sandbox",
                details=[{"field": f"$.{part}", "reason": str(exc)}],
            ) from None
        except TemplateError as exc:
            raise ValidationFailed(
                f"template {template.key} cannot be rendered",
                details=[{"field": f"$.{part}", "reason": str(exc)}],
            ) from None
    parts["subject"] = " ".join(parts["subject"].split())  # one header line
    return Rendered(template.key, language, **parts)
