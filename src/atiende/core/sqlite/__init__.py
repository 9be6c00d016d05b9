"""Django's SQLite backend, with its statements' placeholders converted once per statement, and
the rows a transaction wrote counted (``base.py``).

``ENGINE = "atiende.core.sqlite"`` (the settings choose it for every SQLite database).
"""
