from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from atiende.accounts.roles import Capability
from atiende.channels.email.actions import (
    EDITABLE_IMAP_FIELDS,
    add_imap_mailbox,
    request_imap_poll,
    update_imap_mailbox,
)
from atiende.channels.email.models import EmailAddress, ImapMailbox
from atiende.core.admin import ScopedAdmin, acting_user


@admin.register(EmailAddress)
class EmailAddressAdmin(ScopedAdmin):
    view_capability = Capability.CONFIGURE_BRAND
    edit_capability = Capability.CONFIGURE_BRAND
    list_display = ("address", "display_name", "brand", "is_default", "is_active")
    list_filter = ("brand", "is_active")
    search_fields = ("address", "display_name")


class ImapMailboxForm(forms.ModelForm):
    # Not a model field of the form: the stored password is never rendered back into the page.
    password = forms.CharField(
        label=_("password"),
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=_("Kept to log in to the server and never shown. Leave empty to keep it."),
    )

    class Meta:
        model = ImapMailbox
        fields = ("brand", "host", "port", "security", "username", "folder", "is_active")

    def clean_password(self) -> str:
        password: str = self.cleaned_data.get("password", "")
        if not password and self.instance.pk is None:
            raise forms.ValidationError(_("Enter the password of the mailbox."))
        return password


@admin.register(ImapMailbox)
class ImapMailboxAdmin(ScopedAdmin):
    form = ImapMailboxForm
    view_capability = Capability.CONFIGURE_BRAND
    edit_capability = Capability.CONFIGURE_BRAND
    list_display = (
        "__str__",
        "brand",
        "is_active",
        "last_uid",
        "last_polled_at",
        "failing_since",
        "short_error",
    )
    list_filter = ("brand", "is_active")
    list_select_related = ("brand",)
    search_fields = ("host", "username", "folder")
    actions = ["poll_now"]
    state_fields = (
        "uidvalidity",
        "last_uid",
        "last_polled_at",
        "last_error",
        "failing_since",
        "last_note",
        "created_at",
    )

    @admin.display(description=_("last error"))
    def short_error(self, mailbox: ImapMailbox) -> str:
        return mailbox.last_error[:120]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        settings = ("brand", "host", "port", "security", "username", "password", "folder")
        return [
            (None, {"fields": (*settings, "is_active")}),
            (_("Reading"), {"fields": self.state_fields}),
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("brand", *self.state_fields) if obj is not None else self.state_fields

    def save_model(self, request: HttpRequest, obj: ImapMailbox, form: Any, change: bool) -> None:
        fields = {
            name: form.cleaned_data[name]
            for name in EDITABLE_IMAP_FIELDS
            if name in form.cleaned_data
        }
        if change:
            changed = {name: value for name, value in fields.items() if name in form.changed_data}
            saved = update_imap_mailbox(mailbox=obj, actor=acting_user(request), **changed)
        else:
            saved = add_imap_mailbox(
                brand=form.cleaned_data["brand"], actor=acting_user(request), **fields
            )
        obj.pk = saved.pk

    @admin.action(description=_("Poll now"), permissions=["change"])
    def poll_now(self, request: HttpRequest, queryset: QuerySet[ImapMailbox]) -> None:
        mailboxes = list(queryset.filter(is_active=True))
        for mailbox in mailboxes:
            request_imap_poll(mailbox=mailbox, actor=acting_user(request))
        self.message_user(
            request,
            ngettext(
                "%(count)d mailbox is being read; reload the page to see the result.",
                "%(count)d mailboxes are being read; reload the page to see the result.",
                len(mailboxes),
            )
            % {"count": len(mailboxes)},
        )
