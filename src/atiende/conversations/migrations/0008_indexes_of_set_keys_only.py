"""Nullable foreign keys empty in most rows indexed only where set (core.schema.index_where_set):
the index each had of its own is dropped in place (an AlterField would copy the table on SQLite)
and a partial one made."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from atiende.core.schema import drop_own_index


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_roles_teams_skills'),
        ('brands', '0001_brand'),
        ('conversations', '0007_inbox_indexes_without_nulls'),
        ('customers', '0004_indexes_led_by_composites'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='conversation',
                    name='category',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='conversations.category', verbose_name='category'),
                ),
                migrations.AlterField(
                    model_name='conversation',
                    name='follow_up_of',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='follow_ups', to='conversations.conversation', verbose_name='follow-up of'),
                ),
                migrations.AlterField(
                    model_name='conversation',
                    name='merged_into',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='merged_conversations', to='conversations.conversation', verbose_name='merged into'),
                ),
                migrations.AlterField(
                    model_name='message',
                    name='author_user',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
                ),
                migrations.AlterField(
                    model_name='message',
                    name='moved_from',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='conversations.conversation', verbose_name='moved from'),
                ),
            ],
            database_operations=[
                drop_own_index('conversations', 'conversation', 'category'),
                drop_own_index('conversations', 'conversation', 'follow_up_of'),
                drop_own_index('conversations', 'conversation', 'merged_into'),
                drop_own_index('conversations', 'message', 'author_user'),
                drop_own_index('conversations', 'message', 'moved_from'),
            ],
        ),
        migrations.AddIndex(
            model_name='conversation',
            index=models.Index(condition=models.Q(('category__isnull', False)), fields=['category'], name='conversation_category_set'),
        ),
        migrations.AddIndex(
            model_name='conversation',
            index=models.Index(condition=models.Q(('follow_up_of__isnull', False)), fields=['follow_up_of'], name='conversation_follow_up_of_set'),
        ),
        migrations.AddIndex(
            model_name='conversation',
            index=models.Index(condition=models.Q(('merged_into__isnull', False)), fields=['merged_into'], name='conversation_merged_into_set'),
        ),
        migrations.AddIndex(
            model_name='message',
            index=models.Index(condition=models.Q(('author_user__isnull', False)), fields=['author_user'], name='message_author_user_set'),
        ),
        migrations.AddIndex(
            model_name='message',
            index=models.Index(condition=models.Q(('moved_from__isnull', False)), fields=['moved_from'], name='message_moved_from_set'),
        ),
    ]
