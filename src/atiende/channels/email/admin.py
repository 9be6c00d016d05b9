from django.contrib import admin

from atiende.accounts.roles import Capability
from atiende.channels.email.models import EmailAddress
from atiende.core.admin import ScopedAdmin


@admin.register(EmailAddress)
class EmailAddressAdmin(ScopedAdmin):
    view_capability = Capability.CONFIGURE_BRAND
    edit_capability = Capability.CONFIGURE_BRAND
    list_display = ("address", "display_name", "brand", "is_default", "is_active")
    list_filter = ("brand", "is_active")
    search_fields = ("address", "display_name")
