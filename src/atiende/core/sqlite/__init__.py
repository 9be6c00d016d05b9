"""Django's SQLite backend, with its statements' placeholders converted once per statement.

``ENGINE = "atiende.core.sqlite"`` (the settings choose it for every SQLite database).
"""
