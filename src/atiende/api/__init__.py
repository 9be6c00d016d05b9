"""The REST API (CH6): django-ninja under /api/v1/, personal and integration tokens."""
