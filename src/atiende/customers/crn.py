"""Customer reference numbers (CRN): short, readable aloud, and self-checking.

A CRN is six random symbols and one check symbol over a 31-symbol alphabet that leaves out the
characters people confuse (0/O, 1/I/L), shown as ``XXX-XXXX``.

The check symbol makes the weighted sum ``Σ (i + 1) · value(symbolᵢ)`` over all seven positions
divisible by 31. Because 31 is prime:

* a single wrong symbol at position *i* changes the sum by ``(i + 1) · Δ`` with ``0 < |Δ| < 31``
  and ``1 ≤ i + 1 ≤ 7``, never a multiple of 31, so it is always detected;
* swapping two different adjacent symbols changes it by ``((i + 1) − (i + 2)) · Δ = −Δ``, also
  never a multiple of 31, so every adjacent transposition is detected, the check symbol included.

(Luhn mod N, by contrast, misses the transposition of the symbols worth 0 and N − 1.)

This module is plain Python: the parser, the generator and the checker need no Django.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
MODULUS = len(ALPHABET)  # 31, a prime: the proofs above depend on it
BODY_LENGTH = 6
LENGTH = BODY_LENGTH + 1
_VALUE = {symbol: index for index, symbol in enumerate(ALPHABET)}

assert MODULUS == 31


class InvalidCRN(ValueError):
    """Text that is not a well-formed CRN, or whose check symbol does not match."""


def _weighted_sum(symbols: str) -> int:
    return sum((position + 1) * _VALUE[symbol] for position, symbol in enumerate(symbols))


def check_symbol(body: str) -> str:
    """The symbol that, appended to ``body``, makes the weighted sum divisible by 31."""
    if len(body) != BODY_LENGTH or any(symbol not in _VALUE for symbol in body):
        raise InvalidCRN(f"A CRN body is {BODY_LENGTH} symbols from {ALPHABET}")
    check_weight = BODY_LENGTH + 1
    # Solve check_weight · v ≡ −sum (mod 31); the weight's inverse exists because 31 is prime.
    value = (-_weighted_sum(body) * pow(check_weight, -1, MODULUS)) % MODULUS
    return ALPHABET[value]


def random_body(randbelow: Callable[[int], int] = secrets.randbelow) -> str:
    return "".join(ALPHABET[randbelow(MODULUS)] for _ in range(BODY_LENGTH))


def generate(randbelow: Callable[[int], int] = secrets.randbelow) -> str:
    """A new random CRN in canonical form (seven symbols, no separator)."""
    body = random_body(randbelow)
    return body + check_symbol(body)


def normalize(text: str) -> str:
    """Canonical form of typed or spoken text: upper case, separators and spaces removed."""
    return "".join(symbol for symbol in text.upper() if symbol not in " -_.")


def is_valid(text: str) -> bool:
    symbols = normalize(text)
    if len(symbols) != LENGTH or any(symbol not in _VALUE for symbol in symbols):
        return False
    return _weighted_sum(symbols) % MODULUS == 0


def parse(text: str) -> str:
    """The canonical CRN for ``text``, or :class:`InvalidCRN` saying what is wrong with it."""
    symbols = normalize(text)
    if len(symbols) != LENGTH:
        raise InvalidCRN(f"A CRN has {LENGTH} characters; {text!r} has {len(symbols)}")
    unknown = sorted({symbol for symbol in symbols if symbol not in _VALUE})
    if unknown:
        raise InvalidCRN(f"A CRN never contains {', '.join(unknown)}")
    if _weighted_sum(symbols) % MODULUS:
        raise InvalidCRN(f"{text!r} is not a valid CRN (the check character does not match)")
    return symbols


def display(crn: str) -> str:
    """``K7MQ2PX`` → ``K7M-Q2PX``: the form printed on screens, letters and receipts."""
    return f"{crn[:3]}-{crn[3:]}" if len(crn) == LENGTH else crn
