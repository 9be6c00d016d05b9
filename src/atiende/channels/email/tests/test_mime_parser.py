"""The standard library's MIME parser run with boundary lines matched without a compiled pattern
per multipart: the same messages out as the standard library's, for every corpus mail and for
boundaries full of the characters a regular expression treats specially."""

from __future__ import annotations

import email
import email.errors
import re
from email.message import Message
from email.policy import compat32, default
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from atiende.channels.email import mime_parser, parsing
from atiende.channels.email.tests.test_corpora import MAILS

POLICIES = {"default": default, "ours": parsing._POLICY, "compat32": compat32}


def _tree(message: Message) -> list[Any]:
    """Everything the parser decides, part by part."""
    return [
        (
            part.items(),
            [type(defect).__name__ for defect in part.defects],
            part.preamble,
            part.epilogue,
            part.get_default_type(),
            None if part.is_multipart() else part.get_payload(),
        )
        for part in message.walk()
    ]


def _same_as_the_standard_library(raw: bytes, policy: Any) -> None:
    ours = mime_parser.message_from_bytes(raw, policy)
    theirs = email.message_from_bytes(raw, policy=policy)

    assert type(ours) is type(theirs)
    assert _tree(ours) == _tree(theirs)


@pytest.mark.parametrize("policy", POLICIES.values(), ids=POLICIES.keys())
def test_every_corpus_mail_parses_as_the_standard_library_parses_it(policy: Any) -> None:
    for path in MAILS:
        _same_as_the_standard_library(path.read_bytes(), policy)


@pytest.fixture
def asked_patterns(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, type]]:
    """Each pattern the parser asked to compile, and what it got."""
    asked: list[tuple[str, type]] = []
    compile_for_parser = mime_parser._PatternsForParser.compile

    def spy(pattern: str, flags: int = 0) -> Any:
        matcher = compile_for_parser(pattern, flags)
        asked.append((pattern, type(matcher)))
        return matcher

    monkeypatch.setattr(mime_parser._PatternsForParser, "compile", staticmethod(spy))
    return asked


def _multipart(boundary: str, *, nested: str | None = None, newline: str = "\n") -> bytes:
    inner = (
        f'Content-Type: multipart/mixed; boundary="{nested}"{newline}{newline}'
        f"--{nested}{newline}Content-Type: text/plain{newline}{newline}inner{newline}"
        f"--{nested}--{newline}"
        if nested
        else f"Content-Type: text/plain{newline}{newline}first{newline}"
    )
    lines = [
        "From: Ana <ana@example.com>",
        "Subject: boundaries",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/alternative; boundary="{boundary}"',
        "",
        "preamble",
        f"--{boundary}",
        inner.rstrip(newline),
        f"--{boundary}x looks like a boundary but is text",
        f"--{boundary} \t",
        "Content-Type: text/html",
        "",
        "<p>second</p>",
        f"--{boundary}--  ",
        "epilogue",
    ]
    return newline.join(lines).encode("utf-8", errors="surrogateescape")


def test_a_multipart_mail_compiles_no_pattern_for_its_boundaries(
    asked_patterns: list[tuple[str, type]],
) -> None:
    mail = parsing.parse_mail(_multipart("outer", nested="inner"))

    assert mail.html == "<p>second</p>"
    assert [matcher for _pattern, matcher in asked_patterns] == [mime_parser._BoundaryLine] * 2


@pytest.mark.parametrize(
    "boundary",
    [
        "----=_Part_0_12345.67890",
        "a(b)c[d]{e}?*+|^$.&~# end",
        "back\\slash\\",
        "=_",
        "outer",
        "--",
    ],
)
@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["LF", "CRLF"])
def test_boundaries_with_special_characters_split_as_the_standard_library_splits_them(
    boundary: str, newline: str, asked_patterns: list[tuple[str, type]]
) -> None:
    # The nested boundary starts with the outer one: a prefix must not end the inner part.
    raw = _multipart(boundary, nested=boundary + "inner", newline=newline)

    for policy in POLICIES.values():
        _same_as_the_standard_library(raw, policy)
    assert {matcher for _pattern, matcher in asked_patterns} == {mime_parser._BoundaryLine}


@settings(max_examples=200, deadline=None)
@given(
    boundary=st.text(
        alphabet=st.characters(codec="ascii", exclude_characters='"\r\n'), min_size=1, max_size=70
    ),
    body=st.lists(
        st.sampled_from(["--", "-- ", "text", "", " \t", "--\r", "\r", "--B", "--B--"]),
        max_size=12,
    ),
)
def test_any_boundary_and_lines_near_it_split_as_the_standard_library_splits_them(
    boundary: str, body: list[str]
) -> None:
    lines = [line.replace("B", boundary) for line in body]
    raw = "\n".join(
        [
            f'Content-Type: multipart/mixed; boundary="{boundary}"',
            "",
            f"--{boundary}",
            "",
            *lines,
            f"--{boundary}--",
        ]
    ).encode("ascii")

    _same_as_the_standard_library(raw, default)


def test_other_patterns_are_compiled_as_asked() -> None:
    pattern = mime_parser._PatternsForParser.compile(r"\r\n|\r|\n")
    odd_boundary = mime_parser._PatternsForParser.compile(
        "(?P<sep>a(b)" + mime_parser._BOUNDARY_TAIL
    )

    assert isinstance(pattern, re.Pattern)
    assert pattern.pattern == r"\r\n|\r|\n"
    assert isinstance(odd_boundary, re.Pattern)  # not what the parser builds: compiled


_NAMES = ["Subject", "subject", "SUBJECT", "To", "Content-Type", "content-type", "X-Extra"]
_OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(
            ["add", "delete", "replace", "set_param", "set_boundary", "set_type", "default"]
        ),
        st.sampled_from(_NAMES),
        st.text(alphabet="abc xyz", max_size=8),
    ),
    max_size=12,
)


def _lookups(message: Message) -> list[Any]:
    return [(name in message, str(message.get(name, "-"))) for name in _NAMES]


@settings(max_examples=300, deadline=None)
@given(_OPERATIONS)
def test_a_header_indexed_message_answers_lookups_as_the_standard_library_after_any_change(
    operations: list[tuple[str, str, str]],
) -> None:
    from email.message import EmailMessage

    theirs, ours = EmailMessage(policy=default), mime_parser.HeaderIndexedMessage(policy=default)
    for operation, name, value in operations:
        for message in (theirs, ours):
            try:
                if operation == "add":
                    message[name] = value
                elif operation == "delete":
                    del message[name]
                elif operation == "replace":
                    message.replace_header(name, value)
                elif operation == "set_param":
                    message.set_param("charset", value or "x", header="Content-Type")
                elif operation == "set_boundary":
                    message.set_boundary(value or "b")
                elif operation == "set_type":
                    message.set_type(f"text/{value.strip() or 'x'}")
                elif operation == "default":
                    message.set_default_type("message/rfc822" if value else "text/plain")
            except (KeyError, ValueError, email.errors.HeaderParseError) as error:
                message.__dict__.setdefault("failures", []).append(type(error))
        assert theirs.__dict__.get("failures") == ours.__dict__.get("failures")
        assert _lookups(ours) == _lookups(theirs)
        assert ours.get_content_type() == theirs.get_content_type()


def test_the_parsers_messages_are_header_indexed() -> None:
    parsed = parsing._read(MAILS[0].read_bytes(), 100, [])
    assert all(isinstance(part, mime_parser.HeaderIndexedMessage) for part in parsed.walk())
