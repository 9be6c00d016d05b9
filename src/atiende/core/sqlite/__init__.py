"""Django's SQLite backend, with its statements' placeholders converted once per statement, and
temporary files kept in memory in the processes that ask for it (``base.py``).

``ENGINE = "atiende.core.sqlite"`` (the settings choose it for every SQLite database).
"""
