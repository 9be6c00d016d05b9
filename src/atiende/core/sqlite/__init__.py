"""Django's SQLite backend, with its statements' placeholders converted once per statement, and
the rows a transaction wrote counted, and the connections of a working process set up for work
(``base.py``).

``ENGINE = "atiende.core.sqlite"`` (the settings choose it for every SQLite database).
"""
