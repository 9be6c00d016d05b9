"""Fill Conversation.sla_due_at (added in 0003) from the running SLA timers saved before it existed.

From now on the SLA timers keep it (atiende.sla.timers.refresh_timers); this brings existing rows
level once. Only conversations with a running timer are touched, so a large archive of solved
and closed cases is not rewritten.
"""

from django.db import migrations
from django.db.models import OuterRef, Subquery


def fill_sla_due_at(apps, schema_editor):
    Conversation = apps.get_model("conversations", "Conversation")
    SlaTimer = apps.get_model("sla", "SlaTimer")
    running = SlaTimer.objects.filter(state="running", due_at__isnull=False)
    earliest = (
        running.filter(conversation_id=OuterRef("pk")).order_by("due_at").values("due_at")[:1]
    )
    Conversation.objects.filter(pk__in=running.values("conversation_id")).update(
        sla_due_at=Subquery(earliest)
    )


def forget_sla_due_at(apps, schema_editor):
    apps.get_model("conversations", "Conversation").objects.exclude(sla_due_at=None).update(
        sla_due_at=None
    )


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0004_inbox_indexes"),
        ("sla", "0001_initial"),
    ]

    operations = [migrations.RunPython(fill_sla_due_at, forget_sla_due_at)]
