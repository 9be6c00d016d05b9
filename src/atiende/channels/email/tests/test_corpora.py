"""The parser against third-party mail corpora (read-only, see the corpora's README and MANIFESTs).

Every mail in every set must parse without an exception; Zammad's expected results are compared
field by field and the match rate may not fall; bounces, complaints and quoted replies are
checked against what their sources say.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from atiende.channels.email.parsing import ParsedMail, html_to_text, parse_mail
from atiende.channels.email.quotes import split_quoted_html

CORPORA = Path(os.environ.get("ATIENDE_MAIL_CORPORA", "/work/shared/corpora/email"))
if not CORPORA.is_dir():
    pytest.skip(f"mail corpora not found at {CORPORA}", allow_module_level=True)

MAILS = sorted(
    path for path in CORPORA.rglob("*") if path.is_file() and path.suffix in (".eml", ".box")
)


def _id(path: Path) -> str:
    return str(path.relative_to(CORPORA))


@pytest.mark.parametrize("path", MAILS, ids=_id)
def test_every_corpus_mail_parses_without_an_exception(path: Path) -> None:
    mail = parse_mail(path.read_bytes())

    assert not [defect for defect in mail.defects if defect.startswith("internal parser error")]
    assert "\n" not in mail.subject
    assert "\r" not in mail.subject
    assert mail.automation in ("", "auto_reply", "bounce")
    assert all(address.address == address.address.lower() for address in (*mail.to, *mail.cc))


def test_the_corpora_hold_every_set() -> None:
    sets = {path.relative_to(CORPORA).parts[0] for path in MAILS}

    assert sets == {"flanker", "mikel-mail", "talon-replies", "zammad"}
    assert len(MAILS) >= 200


# --- Zammad: expected From, subject, body and attachment names ---------------------------------
#
# How the comparison normalises, so that it measures what the parser found and not formatting:
# - from: the address compared case-insensitively; the display name with whitespace collapsed
#   and surrounding quotes removed.
# - subject: whitespace collapsed and trimmed on both sides (Zammad keeps a leading space that an
#   encoded word carried; we trim subjects).
# - body: Zammad stores the whole body (quotes included); we split it into text and quoted_text,
#   so both orders of the two (bottom- and top-quoting) are accepted. Zammad's HTML bodies are
#   turned into text with our own html_to_text, its "no visible content" means an empty body, and
#   all whitespace is removed before comparing (line breaks inside paragraphs differ).
# - attachments: the multiset of file names, without Zammad's own "message.html" copy of the
#   HTML body (marked original-format); our names for unnamed parts ("delivery-status.txt") and
#   Zammad's ("Delivery report.txt", "file") differ on purpose and count as misses.
# Known deliberate differences (counted as misses): mail065 (Zammad splits an encoded word at its
# comma), mail071 (we refuse to cut "system@example.com" out of an invalid address), mail076/087
# (Zammad keeps invalid addresses), mail117 (an encoded word inside an address stays as written),
# mail026/085 (we prefer the text/plain alternative; Zammad compares its HTML), mail087/105 (we show
# a text body Zammad hides, and name no "file" part), mail089 (Zammad edits the subject), mail092
# (an empty message/rfc822 part is not kept).

FIELDS = ("from_address", "from_name", "subject", "body", "attachments")
# The achieved rates, rounded down: they may rise, never fall.
MINIMUM_RATES = {
    "from_address": 0.90,
    "from_name": 0.93,
    "subject": 0.97,
    "body": 0.90,
    "attachments": 0.89,
    "overall": 0.92,
}


@dataclass
class _Tally:
    matched: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FIELDS, 0))
    compared: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FIELDS, 0))
    misses: list[str] = field(default_factory=list)

    def add(self, name: str, field_name: str, ours: object, theirs: object) -> None:
        self.compared[field_name] += 1
        if ours == theirs:
            self.matched[field_name] += 1
        else:
            self.misses.append(f"{name} {field_name}: ours={ours!r:.100} expected={theirs!r:.100}")

    def rate(self, field_name: str) -> float:
        if field_name == "overall":
            return sum(self.matched.values()) / max(1, sum(self.compared.values()))
        return self.matched[field_name] / max(1, self.compared[field_name])


def _collapse(value: str) -> str:
    return " ".join(value.split()).strip("\"' ")


def _squeeze(value: str) -> str:
    return re.sub(r"[\s\xa0\u200b]+", "", value)


def _expected_body(expected: dict[str, Any]) -> str:
    body = str(expected["body"])
    if body == "no visible content":
        return ""
    if expected.get("content_type") == "text/html":
        return _squeeze(html_to_text(body))
    return _squeeze(body)


def _our_body(mail: ParsedMail, wanted: str) -> str:
    text, quoted = _squeeze(mail.text), _squeeze(mail.quoted_text)
    return wanted if wanted in (text + quoted, quoted + text) else text + quoted


def _expected_attachments(expected: dict[str, Any]) -> list[str]:
    names = []
    for attachment in expected.get("attachments") or []:
        preferences = attachment.get("preferences") or {}
        if str(preferences.get("original-format", "")).lower() == "true":
            continue
        names.append(str(attachment.get("filename", "")))
    return sorted(names)


def _compare(tally: _Tally, name: str, mail: ParsedMail, expected: dict[str, Any]) -> None:
    sender = mail.sender
    if "from_email" in expected:
        tally.add(
            name,
            "from_address",
            sender.address if sender else "",
            str(expected["from_email"]).lower(),
        )
    if "from_display_name" in expected:
        tally.add(
            name,
            "from_name",
            _collapse(sender.name) if sender else "",
            _collapse(str(expected["from_display_name"])),
        )
    if "subject" in expected:
        tally.add(name, "subject", _collapse(mail.subject), _collapse(str(expected["subject"])))
    if "body" in expected:
        wanted = _expected_body(expected)
        tally.add(name, "body", _our_body(mail, wanted), wanted)
    if "attachments" in expected:
        ours = sorted(attachment.filename for attachment in mail.attachments)
        tally.add(name, "attachments", ours, _expected_attachments(expected))


@pytest.fixture(scope="module")
def zammad_tally() -> _Tally:
    tally = _Tally()
    for expectation in sorted((CORPORA / "zammad").glob("*.yml")):
        mail_path = expectation.with_suffix(".box")
        expected = yaml.load(expectation.read_text(encoding="utf-8"), Loader=yaml.BaseLoader)  # noqa: S506 - BaseLoader builds only strings, lists and dicts
        _compare(tally, expectation.stem, parse_mail(mail_path.read_bytes()), expected)
    return tally


def test_zammad_expectations_match_at_least_the_recorded_rates(zammad_tally: _Tally) -> None:
    rates = {name: zammad_tally.rate(name) for name in (*FIELDS, "overall")}
    print("\nZammad match rates:", {name: f"{rate:.1%}" for name, rate in rates.items()})
    print("compared:", zammad_tally.compared)
    print("\n".join(zammad_tally.misses))

    for name, minimum in MINIMUM_RATES.items():
        assert rates[name] >= minimum, f"{name}: {rates[name]:.1%} < {minimum:.0%}"


def test_zammad_expectations_cover_every_mail_with_a_yml() -> None:
    expectations = sorted((CORPORA / "zammad").glob("*.yml"))

    assert len(expectations) == 45
    assert all(path.with_suffix(".box").is_file() for path in expectations)


# --- bounces and complaints --------------------------------------------------------------------

# The failed address each bounce names; a delay warning names none that failed.
FLANKER_BOUNCES = {
    "broken-mime.eml": ("info@example.net",),
    "delayed-broken.eml": ("demo@example.com",),
    "delayed.eml": ("foo@example.com",),
    "gmail-invalid-address.eml": ("awfawfawfawfawfaw@someserverhere.com",),
    "gmail-no-dns.eml": ("user@example.comm",),
    "mailbox-full.eml": ("user@aol.com",),
    "no-mx.eml": (),
    "office365.eml": ("noname@example.com",),
    "zed.eml": ("asdfasdfasdfasdfasdfasdfewrqertrtyrthsfgdfgadfqeadvxzvz@gmail.com",),
}


def test_the_bounce_table_lists_every_flanker_bounce() -> None:
    assert sorted(path.name for path in (CORPORA / "flanker" / "bounce").glob("*.eml")) == sorted(
        FLANKER_BOUNCES
    )


@pytest.mark.parametrize(("name", "failed"), sorted(FLANKER_BOUNCES.items()))
def test_flanker_bounces_are_bounces_with_their_failed_recipient(
    name: str, failed: tuple[str, ...]
) -> None:
    mail = parse_mail((CORPORA / "flanker" / "bounce" / name).read_bytes())

    assert mail.automation == "bounce", mail.automation_reason
    assert mail.bounced_recipients == failed


def test_a_delay_warning_says_so_and_names_the_address() -> None:
    mail = parse_mail((CORPORA / "flanker" / "bounce" / "no-mx.eml").read_bytes())

    assert "delayed" in mail.automation_reason
    assert "user@example.com" in mail.automation_reason


@pytest.mark.parametrize(
    ("path", "message_id"),
    [
        ("flanker/bounce/zed.eml", "20090708054735.GC7578@example.com"),
        ("flanker/bounce/mailbox-full.eml", "4E326A95.3010907@example.com"),
        ("flanker/bounce/office365.eml", "20171013111011.20866.254C2F3A4D7AA526@ninomail.com"),
        (
            "flanker/bounce/gmail-invalid-address.eml",
            "CAKsfaBUUGqVZiaMrmH3TRPfq1odQPtM7Ey5YW1SgyJJRHtAjgw@mail.gmail.com",
        ),
    ],
)
def test_bounces_name_the_message_that_bounced(path: str, message_id: str) -> None:
    assert parse_mail((CORPORA / path).read_bytes()).bounced_message_id == message_id


@pytest.mark.parametrize(
    ("path", "failed"),
    [
        (
            "zammad/mail033-undelivered-mail-returned-to-sender-notification.box",
            ("not_existing@znuny.com",),
        ),
        ("zammad/mail052.box", ()),
        ("zammad/mail092.box", ("receiver@example.org",)),
        ("mikel-mail/multipart_report_emails/report_530.eml", ("edwin@zzzzzzz.com",)),
        ("mikel-mail/multipart_report_emails/multipart_report_multiple_status.eml", ("u@ci.com",)),
    ],
)
def test_other_corpus_bounces_are_recognised(path: str, failed: tuple[str, ...]) -> None:
    mail = parse_mail((CORPORA / path).read_bytes())

    assert mail.automation == "bounce"
    assert mail.bounced_recipients == failed


def test_a_bounce_listing_five_addresses_names_all_five() -> None:
    mail = parse_mail(
        (CORPORA / "mikel-mail/multipart_report_emails/multi_address_bounce1.eml").read_bytes()
    )

    assert mail.automation == "bounce"
    assert len(mail.bounced_recipients) == 5


@pytest.mark.parametrize("name", ["aol.eml", "yahoo.eml"])
def test_flanker_complaints_are_abuse_reports_never_answered(name: str) -> None:
    mail = parse_mail((CORPORA / "flanker" / "complaints" / name).read_bytes())

    assert mail.automation == "auto_reply"
    assert "abuse report" in mail.automation_reason
    assert mail.bounced_recipients == ()


def test_a_read_receipt_is_not_answered() -> None:
    mail = parse_mail((CORPORA / "flanker" / "disposition-notification.eml").read_bytes())

    assert (mail.automation, mail.automation_reason.split(" (")[0]) == (
        "auto_reply",
        "read receipt",
    )


def test_no_ordinary_corpus_mail_is_taken_for_a_bounce() -> None:
    ordinary = [path for path in MAILS if "bounce" not in str(path) and "report" not in str(path)]
    bounces = {
        _id(path) for path in ordinary if parse_mail(path.read_bytes()).automation == "bounce"
    }

    assert bounces == {
        "zammad/mail033-undelivered-mail-returned-to-sender-notification.box",
        "zammad/mail052.box",
        "zammad/mail078.box",
        "zammad/mail092.box",
        "mikel-mail/mime_emails/raw_email_with_mimepart_without_content_type.eml",
    }


# --- talon: quoted replies ---------------------------------------------------------------------

TALON = CORPORA / "talon-replies"
STANDARD_REPLIES = sorted((TALON / "standard_replies").glob("*.eml"))
HTML_REPLIES = sorted((TALON / "html_replies").glob("*.html"))


@pytest.mark.parametrize("path", STANDARD_REPLIES, ids=_id)
def test_talon_standard_replies_keep_only_the_reply(path: Path) -> None:
    expected_file = path.with_name(f"{path.stem}_reply_text")
    expected = expected_file.read_text(encoding="utf-8") if expected_file.exists() else "Hello"
    mail = parse_mail(path.read_bytes())

    assert " ".join(mail.text.split()) == " ".join(expected.split())
    assert mail.quoted_text.strip()


@pytest.mark.parametrize("path", HTML_REPLIES, ids=_id)
def test_talon_html_replies_keep_only_the_reply(path: Path) -> None:
    new_html, quoted_html = split_quoted_html(path.read_text(encoding="utf-8"))

    assert _squeeze(html_to_text(new_html)) == "Hi.Iamfine.Thanks,Alex"
    assert _squeeze(html_to_text(quoted_html))


def test_a_reply_sharing_a_block_with_its_quotation_is_split() -> None:
    mail = parse_mail((TALON / "reply-quotations-share-block.eml").read_bytes())

    assert mail.text.startswith("Hi Katharine.")
    assert mail.text.rstrip().endswith("Joe XXX")
    assert "New Booking Inquiry" in mail.quoted_text


def test_the_first_header_value_is_the_header_parsers_for_every_corpus_mail() -> None:
    """parsing.first_header_value (what storing reads a Message-ID with) against the standard
    library's header parser, for the headers storing and routing ask about."""
    from atiende.channels.email.parsing import first_header_value, read_headers

    read_without_parser = 0
    for path in MAILS:
        raw = path.read_bytes()
        parsed = read_headers(raw)
        for name in ("Message-ID", "To", "Subject", "Received"):
            found = first_header_value(raw, name)
            if found is not None:
                read_without_parser += 1
                assert found == str(parsed.get(name, "") or ""), (name, _id(path))
    # Most mail is read without the parser (the rest: bare CRs, non-ASCII values).
    assert read_without_parser > 3 * len(MAILS)
