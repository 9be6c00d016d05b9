"""The CRN scheme catches every single-character error and every adjacent transposition."""

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from atiende.customers import crn

symbols = st.sampled_from(crn.ALPHABET)
bodies = st.text(alphabet=crn.ALPHABET, min_size=crn.BODY_LENGTH, max_size=crn.BODY_LENGTH)


def full(body: str) -> str:
    return body + crn.check_symbol(body)


@given(bodies)
def test_every_generated_crn_is_valid(body):
    assert crn.is_valid(full(body))


@given(bodies, st.integers(min_value=0, max_value=crn.LENGTH - 1), symbols)
def test_any_single_substitution_is_detected(body, position, replacement):
    code = full(body)
    if code[position] == replacement:
        return
    mistyped = code[:position] + replacement + code[position + 1 :]
    assert not crn.is_valid(mistyped)


@given(bodies, st.integers(min_value=0, max_value=crn.LENGTH - 2))
def test_any_adjacent_transposition_is_detected(body, position):
    code = full(body)
    if code[position] == code[position + 1]:
        return
    swapped = code[:position] + code[position + 1] + code[position] + code[position + 2 :]
    assert not crn.is_valid(swapped)


def _swap(code: str, position: int) -> str:
    return code[:position] + code[position + 1] + code[position] + code[position + 2 :]


def test_every_adjacent_transposition_inside_the_body_is_detected_exhaustively():
    # The property tests sample; this leaves no ordered pair of symbols at no position out.
    for position in range(crn.BODY_LENGTH - 1):
        for first, second in itertools.permutations(crn.ALPHABET, 2):
            body = "2" * position + first + second + "2" * (crn.BODY_LENGTH - 2 - position)
            assert not crn.is_valid(_swap(full(body), position))


def test_every_transposition_with_the_check_symbol_is_detected_exhaustively():
    # Varying the first symbol walks the check symbol through all 31 values.
    for last, first in itertools.product(crn.ALPHABET, crn.ALPHABET):
        code = full(first + "2" * (crn.BODY_LENGTH - 2) + last)
        if code[-1] != code[-2]:
            assert not crn.is_valid(_swap(code, crn.BODY_LENGTH - 1))


def test_alphabet_has_no_look_alike_characters():
    assert not set("01ILO") & set(crn.ALPHABET)
    assert len(crn.ALPHABET) == len(set(crn.ALPHABET)) == 31


def test_generated_crns_are_well_formed_and_vary():
    codes = {crn.generate() for _ in range(200)}
    assert len(codes) == 200
    assert all(crn.is_valid(code) and len(code) == crn.LENGTH for code in codes)


def test_typed_forms_are_accepted_and_displayed_with_a_dash():
    code = full("K7MQ2P")
    typed = f" {code[:3].lower()}-{code[3:].lower()} "
    assert crn.parse(typed) == code
    assert crn.display(code) == f"{code[:3]}-{code[3:]}"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("ABC", "has 7 characters"),
        ("K7M-Q2P0", "never contains 0"),
        ("K7M-Q2PI", "never contains I"),
    ],
)
def test_malformed_crns_say_what_is_wrong(text, reason):
    with pytest.raises(crn.InvalidCRN, match=reason):
        crn.parse(text)


def test_a_wrong_check_character_is_reported_as_such():
    code = full("K7MQ2P")
    wrong = code[:-1] + next(symbol for symbol in crn.ALPHABET if symbol != code[-1])
    with pytest.raises(crn.InvalidCRN, match="check character"):
        crn.parse(wrong)
