"""Attachments: their details and their bytes. They are uploaded with a message or a note
(base64 in the JSON body of POST /conversations/{id}/messages or /notes)."""

from __future__ import annotations

from django.http import FileResponse, Http404, HttpRequest
from ninja import Router

from atiende.api.auth import Caller, caller_of
from atiende.api.errors import COMMON_ERRORS, ApiError
from atiende.api.schemas import AttachmentOut, Id, attachment_out
from atiende.conversations.attachments import download_response
from atiende.conversations.models import Attachment
from atiende.conversations.queries import attachment_for

router = Router(tags=["attachments"])


def _attachment(caller: Caller, attachment_id: Id) -> Attachment:
    attachment = attachment_for(caller.actor, attachment_id=attachment_id)
    if caller.brand_id is not None and attachment.brand_id != caller.brand_id:
        raise ApiError(404, "not_found")
    return attachment


@router.get(
    "/{attachment_id}",
    response={200: AttachmentOut, **COMMON_ERRORS},
    summary="Get an attachment's details",
)
def get_attachment(request: HttpRequest, attachment_id: Id) -> AttachmentOut:
    return attachment_out(_attachment(caller_of(request), attachment_id))


@router.get(
    "/{attachment_id}/content",
    response={200: None, **COMMON_ERRORS},
    summary="Download an attachment",
    openapi_extra={
        "responses": {
            "200": {
                "description": "The file",
                "content": {
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
                },
            }
        }
    },
)
def download_attachment(request: HttpRequest, attachment_id: Id) -> FileResponse:
    attachment = _attachment(caller_of(request), attachment_id)
    try:
        # Typed as the document says (any file is application/octet-stream to the API).
        return download_response(attachment, content_type="application/octet-stream")
    except FileNotFoundError:
        raise Http404("The file of this attachment is missing") from None
