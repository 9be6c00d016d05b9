"""Atiende: an open-source customer-service platform."""

__version__ = "0.1.0"
