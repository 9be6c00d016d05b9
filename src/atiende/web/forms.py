"""Forms of the agent interface: signing in and personal preferences."""

from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.utils.text import capfirst
from django.utils.translation import get_language_info
from django.utils.translation import gettext_lazy as _

# Names zoneinfo lists that are not places a person lives in.
_NOT_A_PLACE = {"Factory", "localtime"}


class EmailLoginForm(AuthenticationForm):
    """Django's login form, asking for the email address that is the account's username."""

    error_messages = {
        "invalid_login": _(
            "That email address and password do not match an account. Check both and try again."
        ),
        "inactive": _("This account is disabled. Ask an administrator to enable it."),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        username = self.fields["username"]
        username.label = _("Email address")
        username.widget.input_type = "email"
        username.widget.attrs["spellcheck"] = "false"
        self.fields["password"].label = _("Password")

    def clean_username(self) -> str:
        # Accounts are stored with lower-case addresses; people type them however they like.
        return str(self.cleaned_data["username"]).strip().lower()


def language_choices() -> list[tuple[str, str]]:
    """Follow the browser, or one of the interface languages named in its own language."""
    named_locally = [
        (code, capfirst(get_language_info(code)["name_local"]))
        for code, _name in settings.LANGUAGES
    ]
    return [("", _("Follow my browser")), *named_locally]


def time_zone_choices() -> list[tuple[str, str]]:
    return [(zone, zone) for zone in sorted(available_timezones() - _NOT_A_PLACE)]


class PreferencesForm(forms.Form):
    full_name = forms.CharField(label=_("Full name"), max_length=150)
    language = forms.ChoiceField(
        label=_("Language"),
        choices=language_choices,
        required=False,
        widget=forms.RadioSelect,
        help_text=_("With “Follow my browser”, Atiende uses the language your browser is set to."),
    )
    time_zone = forms.ChoiceField(
        label=_("Time zone"),
        choices=time_zone_choices,
        help_text=_("Dates and times are shown in this time zone."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
