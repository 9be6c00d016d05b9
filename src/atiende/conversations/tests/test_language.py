"""Telling Spanish from English (conversations/language.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from atiende.conversations import language
from atiende.conversations.language import detect_language


def test_spanish_and_english_mail_are_told_apart() -> None:
    assert detect_language("Hola, no me ha llegado el pedido. Gracias por la ayuda") == "es"
    assert detect_language("Hello, my order has not arrived. Thanks for the help") == "en"


def test_short_or_mixed_text_says_nothing() -> None:
    assert detect_language("") == ""
    assert detect_language("Hola") == ""  # one hit is not enough
    assert detect_language("hola gracias thanks please") == ""  # as many of each


def test_case_and_accents_count() -> None:
    assert detect_language("HOLA, ESTÁ LA FACTURA") == "es"


def test_only_the_first_four_thousand_characters_are_read() -> None:
    english_start = "the order and the invoice " * 10
    assert len(english_start) < 4000
    spanish_tail = " de la que el en y los se del las" * 1000
    assert detect_language(english_start + spanish_tail) == "es"
    padded = english_start + "x" * (4000 - len(english_start)) + spanish_tail
    assert detect_language(padded) == "en"


def test_twice_as_many_common_words_of_one_language_decide() -> None:
    assert detect_language("hola gracias pedido thanks") == "es"  # 3 against 1
    assert detect_language("hola gracias thanks") == "es"  # 2 against 1
    assert detect_language("hola gracias pedido thanks please") == ""  # 3 against 2
    assert detect_language("thanks please hola") == "en"


def _counted_word_by_word(text: str) -> tuple[int, int]:
    """The common words counted in a plain loop: what _common_words must answer."""
    spanish = english = 0
    for word in language._WORD.findall(text[:4000].lower()):
        spanish += word in language._SPANISH
        english += word in language._ENGLISH
    return spanish, english


_VOCABULARY = [*sorted(language._SPANISH | language._ENGLISH), "Pedido", "ÁRBOL", "x", "ñu"]


@given(
    st.lists(st.one_of(st.sampled_from(_VOCABULARY), st.text(max_size=8)), max_size=60).map(
        " ".join
    )
)
def test_the_common_words_are_counted_as_word_by_word(text: str) -> None:
    assert language._common_words(text) == _counted_word_by_word(text)
