"""The raw-MIME webhook: mail providers' inbound routes POST each message here.

``POST /channels/email/inbound/<address>/`` with ``Authorization: Bearer <secret>`` and the
message as the body (message/rfc822 or application/octet-stream), or as a multipart form field
named ``body-mime``, ``email`` or ``message``. Answers 202 once the bytes are committed.
"""

from __future__ import annotations

import hmac

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from atiende.channels.email.actions import secret_hash
from atiende.channels.email.intake import receive_email
from atiende.channels.email.models import EmailAddress

_FORM_FIELDS = ("body-mime", "email", "message")


def _error(code: str, message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": code, "message": message}, status=status)


def _authorized(request: HttpRequest, address: str) -> EmailAddress | None:
    header = request.headers.get("Authorization", "")
    secret = header[7:].strip() if header.lower().startswith("bearer ") else ""
    found = (
        EmailAddress.objects.filter(address__iexact=address, is_active=True)
        .select_related("brand")
        .first()
    )
    # The same answer for an unknown address and a wrong secret: the webhook reveals nothing.
    if found is None or not found.inbound_secret_hash or not secret:
        return None
    return found if hmac.compare_digest(secret_hash(secret), found.inbound_secret_hash) else None


def _raw_message(request: HttpRequest, limit: int) -> bytes:
    if (request.content_type or "").startswith("multipart/form-data"):
        for name in _FORM_FIELDS:
            upload = request.FILES.get(name)
            if isinstance(upload, UploadedFile):
                return upload.read(limit + 1)
            if name in request.POST:
                return request.POST[name].encode("utf-8", errors="surrogateescape")
        return b""
    # Read the stream directly: request.body would stop at DATA_UPLOAD_MAX_MEMORY_SIZE.
    return request.read(limit + 1)


@csrf_exempt
@require_POST
def inbound_mime(request: HttpRequest, address: str) -> JsonResponse:
    email_address = _authorized(request, address)
    if email_address is None:
        return _error("unauthorized", _("Unknown address or wrong secret."), 401)
    limit = settings.ATIENDE_MAX_MESSAGE_BYTES
    try:
        raw = _raw_message(request, limit)
        too_large = len(raw) > limit
    except RequestDataTooBig:
        raw, too_large = b"", True
    if too_large:
        return _error(
            "too_large", _("The message is larger than %(limit)d bytes.") % {"limit": limit}, 413
        )
    if not raw.strip():
        return _error("empty", _("The request carries no message."), 400)
    receipt = receive_email(brand=email_address.brand, raw=raw, source="webhook")
    return JsonResponse(
        {"status": "accepted", "inbound": receipt.inbound.pk, "duplicate": not receipt.created},
        status=202,
    )
