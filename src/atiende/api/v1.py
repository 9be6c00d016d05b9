"""The API object: version 1, every route behind a bearer token, the routers of each domain.

The routers live in ``atiende.api.routers`` rather than in each app's ``api.py``: they share
the caller's brand limit, the error codes, the cursor and the idempotency wrapper, and keeping
them beside those makes the API one reviewable unit; each router still reads through its app's
``queries.py`` and writes through its ``actions.py``.
"""

from __future__ import annotations

from ninja import NinjaAPI, Swagger

from atiende.api.auth import TokenAuth
from atiende.api.errors import install_error_handlers
from atiende.api.routers import accounts, attachments, conversations, customers, search, sla

api = NinjaAPI(
    title="Atiende API",
    version="1",
    # Developer documentation, in English like the code (the error messages are translated).
    description=(
        "Conversations, customers, teams and service levels of Atiende. Send a token as "
        "`Authorization: Bearer …`; every POST honours `Idempotency-Key`."
    ),
    urls_namespace="api-v1",
    openapi_url="/v1/openapi.json",
    docs_url="/docs",
    docs=Swagger(settings={"persistAuthorization": True}),
    auth=TokenAuth(),
)
install_error_handlers(api)

api.add_router("/v1/conversations", conversations.router)
api.add_router("/v1/customers", customers.router)
api.add_router("/v1/organizations", customers.organizations_router)
api.add_router("/v1", accounts.router)
api.add_router("/v1/attachments", attachments.router)
api.add_router("/v1/sla", sla.router)
api.add_router("/v1/search", search.router)
