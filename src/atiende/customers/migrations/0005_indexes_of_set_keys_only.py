"""Nullable foreign keys empty in most rows indexed only where set (core.schema.index_where_set):
the index each had of its own is dropped in place (an AlterField would copy the table on SQLite)
and a partial one made."""

import django.db.models.deletion
from django.db import migrations, models

from atiende.core.schema import drop_own_index


class Migration(migrations.Migration):

    dependencies = [
        ('brands', '0001_brand'),
        ('customers', '0004_indexes_led_by_composites'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='customer',
                    name='merged_into',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='merged_customers', to='customers.customer', verbose_name='merged into'),
                ),
                migrations.AlterField(
                    model_name='customer',
                    name='organization',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='customers', to='customers.organization'),
                ),
            ],
            database_operations=[
                drop_own_index('customers', 'customer', 'merged_into'),
                drop_own_index('customers', 'customer', 'organization'),
            ],
        ),
        migrations.AddIndex(
            model_name='customer',
            index=models.Index(condition=models.Q(('organization__isnull', False)), fields=['organization'], name='customer_organization_set'),
        ),
        migrations.AddIndex(
            model_name='customer',
            index=models.Index(condition=models.Q(('merged_into__isnull', False)), fields=['merged_into'], name='customer_merged_into_set'),
        ),
    ]
