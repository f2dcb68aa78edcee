"""Reading email without a database: parsing, mentions, classification."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from intake_support import FIXTURES

from riskops.intake.email import (
    Category,
    Malformed,
    ParsedEmail,
    classify,
    html_to_text,
    mentions,
    parse_message,
    same_tx_hash,
)
from riskops.intake.service import raw_for_dead_letter
from riskops.intake.tasks import iter_messages

Read = Callable[[str], bytes]


def _parse(raw: bytes) -> ParsedEmail:
    parsed = parse_message(raw)
    assert isinstance(parsed, ParsedEmail), parsed
    return parsed


def test_plain_message(fixture_bytes: Read) -> None:
    parsed = _parse(fixture_bytes("plain.eml"))
    assert parsed.ref == "plain-0001@mail.example.com"
    assert parsed.from_address == "alice.smith@example.com"  # lower-cased
    assert parsed.from_name == "Alice Smith"
    assert parsed.to_addresses == ["risk@exchange.example"]
    assert parsed.sent_at is not None and parsed.sent_at.isoformat() == "2025-03-03T08:15:00+00:00"
    assert parsed.body_from == "plain"
    assert "It was not me!" in parsed.text_body
    assert parsed.attachments == []


def test_multipart_prefers_plain_text_and_keeps_the_pdf(fixture_bytes: Read) -> None:
    parsed = _parse(fixture_bytes("multipart_pdf.eml"))
    assert parsed.body_from == "plain"
    assert "\r" not in parsed.text_body and "recall request attached" in parsed.text_body
    [pdf] = parsed.attachments
    assert (pdf.position, pdf.filename, pdf.content_type) == (
        1,
        "recall-request.pdf",
        "application/pdf",
    )
    assert pdf.content.startswith(b"%PDF-1.4")
    assert pdf.sha256 == hashlib.sha256(pdf.content).hexdigest()


def test_html_only_body_is_stripped_to_text(fixture_bytes: Read) -> None:
    parsed = _parse(fixture_bytes("html_only.eml"))
    assert parsed.body_from == "html"
    assert "pig butchering scam" in parsed.text_body
    assert "<" not in parsed.text_body
    assert "alert(" not in parsed.text_body and "color: red" not in parsed.text_body
    # the mailto: target of a link is kept as text (it can link to an account)
    assert "case-officer@scamwatch.example" in parsed.text_body


def test_encoded_headers_and_charset_are_decoded(fixture_bytes: Read) -> None:
    parsed = _parse(fixture_bytes("encoded_subject.eml"))
    assert parsed.subject == "Konto acc-0000104 gesperrt – Hilfe"
    assert parsed.from_name == "Jürgen Müller"
    assert parsed.text_body == "Guten Tag, mein Konto ist gesperrt. Grüße, Jürgen"


def test_malformed_input_is_reported_not_parsed(fixture_bytes: Read) -> None:
    result = parse_message(fixture_bytes("malformed.eml"))
    assert isinstance(result, Malformed)
    assert "not an email" in result.reason
    assert isinstance(parse_message(b"  \n"), Malformed)


def test_a_message_without_message_id_is_keyed_by_its_bytes() -> None:
    raw = b"From: a@b.example\r\nSubject: hi\r\n\r\nbody\r\n"
    parsed = _parse(raw)
    assert parsed.ref == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert parsed.message_id is None


def test_mbox_entries_are_read_one_by_one() -> None:
    entries = list(iter_messages([FIXTURES / "mailbox.mbox"]))
    assert [where.rsplit("#", 1)[1] for where, _ in entries] == ["1", "2"]
    assert [_parse(raw).ref for _, raw in entries] == [
        "mbox-0001@example.net",
        "mbox-0002@police.example.gov",
    ]


def test_a_directory_yields_its_mail_files() -> None:
    names = {where.split("/")[-1] for where, _ in iter_messages([FIXTURES])}
    assert "plain.eml" in names and "malformed.eml" in names
    assert "mailbox.mbox#2" in names


def test_mentions(fixture_bytes: Read) -> None:
    found = mentions(_parse(fixture_bytes("html_only.eml")))
    assert found.withdrawal_ids == {"wd-000000777": "body"}
    assert found.emails["reports@scamwatch.example"] == "from"
    found = mentions(_parse(fixture_bytes("multipart_pdf.eml")))
    assert list(found.tx_hashes) == ["0x" + "AB" * 32]
    found = mentions(_parse(fixture_bytes("encoded_subject.eml")))
    assert found.account_ids["acc-0000104"] == "subject"


def test_own_mailboxes_are_not_mentions() -> None:
    raw = (
        b"From: x@y.example\r\nTo: risk@exchange.example\r\nMessage-ID: <1@y>\r\n\r\n"
        b"> On Monday risk@exchange.example wrote: write to help@exchange.example\r\n"
    )
    found = mentions(_parse(raw), own_addresses=frozenset({"help@exchange.example"}))
    assert set(found.emails) == {"x@y.example"}


def test_classification(fixture_bytes: Read) -> None:
    expected = {
        "plain.eml": Category.NOT_ME,
        "multipart_pdf.eml": Category.PARTNER_BANK,
        "html_only.eml": Category.FRAUD_REPORT,
        "unlinked.eml": Category.OTHER,
    }
    for name, category in expected.items():
        assert classify(_parse(fixture_bytes(name))).category is category, name
    police = dict(iter_messages([FIXTURES / "mailbox.mbox"]))
    verdicts = [classify(_parse(raw)) for raw in police.values()]
    assert [v.category for v in verdicts] == [Category.OTHER, Category.LAW_ENFORCEMENT]
    assert verdicts[1].severity > classify(_parse(fixture_bytes("plain.eml"))).severity
    assert classify(_parse(fixture_bytes("plain.eml"))).typology == "account_takeover"


def test_keywords_match_whole_words_only() -> None:
    raw = b"From: a@b.example\r\nMessage-ID: <w@b>\r\nSubject: warranty\r\n\r\nnothing\r\n"
    assert classify(_parse(raw)).category is Category.OTHER


def test_html_to_text_keeps_blocks_on_lines() -> None:
    assert html_to_text("<p>one</p><p>two &amp; three</p>") == "one\ntwo & three"


def test_tx_hash_comparison() -> None:
    assert same_tx_hash("0x" + "AB" * 32, "0x" + "ab" * 32)
    assert same_tx_hash("ab" * 32, "0x" + "ab" * 32)
    assert not same_tx_hash("A" * 88, "a" * 88)  # base58 is case-sensitive


def test_dead_letter_keeps_binary_exactly() -> None:
    raw = b"not mail\x00\xff"
    assert raw_for_dead_letter(raw) == raw
    assert raw_for_dead_letter(b"plain text") == b"plain text"
