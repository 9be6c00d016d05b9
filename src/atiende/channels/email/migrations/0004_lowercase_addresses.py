"""Addresses are kept lower-case (EmailAddress.save) so lookups are exact matches on the unique
index; rows saved before that, through the admin, are lower-cased here."""

from django.db import migrations
from django.db.models.functions import Lower


def lower_case(apps, schema_editor):
    EmailAddress = apps.get_model("email_channel", "EmailAddress")
    EmailAddress.objects.exclude(address=Lower("address")).update(address=Lower("address"))


class Migration(migrations.Migration):
    dependencies = [("email_channel", "0003_imap_mailbox")]
    operations = [migrations.RunPython(lower_case, migrations.RunPython.noop)]
