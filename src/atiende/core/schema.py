"""Schema changes that Django's migrations would make by copying a whole table on SQLite."""

from __future__ import annotations

from typing import Any

from django.db import migrations, models
from django.db.models import Index


def index_where_set(field: str, name: str) -> models.Index:
    """The index of a nullable foreign key that is empty in most rows (a category, a merge, a
    message's author among the staff) over the rows that hold one: every lookup by it (``= x``,
    ``IN (...)``, Django's deletion rules) implies "is not null", which SQLite's and PostgreSQL's
    planners read, and a new row without it writes no entry."""
    return models.Index(
        fields=[field], condition=models.Q(**{f"{field}__isnull": False}), name=name
    )


def drop_own_index(app_label: str, model_name: str, field_name: str) -> migrations.RunPython:
    """Drop the index a foreign key got for itself (``db_index=True``), as an ``AlterField`` to
    ``db_index=False`` would, but in place: on SQLite that ``AlterField`` copies the table (every
    stored mail's bytes, for the inbound messages). Use it as the database side of a
    ``SeparateDatabaseAndState`` whose state side is that ``AlterField``; reversed, the index is
    made again.
    """

    def drop(apps: Any, schema_editor: Any) -> None:
        model = apps.get_model(app_label, model_name)
        column = model._meta.get_field(field_name).column
        declared = {index.name for index in model._meta.indexes}
        for name in schema_editor._constraint_names(
            model, [column], index=True, type_=Index.suffix, exclude=declared
        ):
            schema_editor.execute(schema_editor._delete_index_sql(model, name))

    def create(apps: Any, schema_editor: Any) -> None:
        model = apps.get_model(app_label, model_name)
        for statement in schema_editor._field_indexes_sql(model, model._meta.get_field(field_name)):
            schema_editor.execute(statement)

    return migrations.RunPython(drop, create, elidable=False)
