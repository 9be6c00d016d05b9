"""A check of our own for schemathesis, loaded through ``SCHEMATHESIS_HOOKS``.

schemathesis's ``positive_data_acceptance`` treats every 422 to a schema-valid request as a
failure. Our 422s are of two kinds, told apart by the error's ``code``:

* ``invalid_request`` — the request does not have the documented shape (ninja's validation, a
  parameter the document describes). For a schema-valid request that is a real disagreement
  between the document and the server, and this check fails on it.
* every other code (``validation_failed``, ``invalid_cursor``, ``invalid_crn``...) — a rule of
  the domain that a JSON schema cannot state: the customer to merge into must not be the same
  one, an organization's name must be new in the brand, a cursor must be one the server issued.
  The configuration lets ``positive_data_acceptance`` accept 422 for those, and this check
  narrows it back down to them.

One exception, named here so it is not a loophole: text with U+0000, which no database column
can hold, is refused as ``invalid_request`` / ``nul_character`` although JSON allows it.
"""

from __future__ import annotations

import json
from typing import Any

import schemathesis

DOMAIN_REFUSAL_STATUS = 422
SHAPE_REFUSAL_CODE = "invalid_request"
# Refusals of a shape the document cannot express (see the module's docstring).
UNDOCUMENTABLE_DETAILS = frozenset({"nul_character"})


@schemathesis.check
def schema_valid_request_passes_the_shape_checks(ctx: Any, response: Any, case: Any) -> None:
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return
    if response.status_code != DOMAIN_REFUSAL_STATUS:
        return
    try:
        body = json.loads(response.content)
    except ValueError as error:
        raise AssertionError("a 422 without our JSON error body") from error
    if body.get("code") != SHAPE_REFUSAL_CODE:
        return
    details = {detail.get("code") for detail in body.get("details", [])}
    if details and details <= UNDOCUMENTABLE_DETAILS:
        return
    raise AssertionError(
        "A request that the document allows was refused as malformed: " + json.dumps(body)
    )
