"""Forms of the agent interface: signing in, personal preferences, the conversation page."""

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


class ComposerForm(forms.Form):
    """A reply to the customer or a note for colleagues; files come in ``request.FILES``."""

    REPLY = "reply"
    NOTE = "note"

    kind = forms.ChoiceField(
        label=_("Write"),
        choices=[(REPLY, _("Reply to the customer")), (NOTE, _("Internal note"))],
        initial=REPLY,
        widget=forms.RadioSelect,
    )
    channel = forms.ChoiceField(label=_("Send by"), required=False)
    body = forms.CharField(
        label=_("Message"),
        required=False,
        max_length=100_000,
        widget=forms.Textarea(attrs={"rows": 6}),
    )
    status = forms.ChoiceField(required=False)
    # The newest message the agent had on screen when writing (collision check, CV6).
    seen = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)
    confirm = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(
        self,
        *args: Any,
        channels: list[tuple[str, str]],
        statuses: list[tuple[str, str]],
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        channel = self.fields["channel"]
        assert isinstance(channel, forms.ChoiceField)
        channel.choices = channels
        status = self.fields["status"]
        assert isinstance(status, forms.ChoiceField)
        status.choices = [("", ""), *statuses]


class MergeForm(forms.Form):
    target = forms.CharField(
        label=_("Merge into"),
        max_length=40,
        help_text=_("The reference of the conversation that stays, e.g. SOL-12."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    def target_number(self, prefix: str) -> int:
        """The number in "SOL-12", "sol 12" or "12"; a ValidationError for anything else."""
        text = str(self.cleaned_data["target"]).strip()
        head, _dash, tail = text.replace(" ", "-").rpartition("-")
        if head and head.strip("-").casefold() != prefix.casefold():
            raise forms.ValidationError(
                _("%(reference)s is not a reference of this brand (%(prefix)s-…)."),
                code="wrong_prefix",
                params={"reference": text, "prefix": prefix},
            )
        if not tail.isdigit():
            raise forms.ValidationError(
                _("Write the reference as %(prefix)s-12."),
                code="bad_reference",
                params={"prefix": prefix},
            )
        return int(tail)


class SplitForm(forms.Form):
    messages = forms.TypedMultipleChoiceField(coerce=int, required=True)
    subject = forms.CharField(
        label=_("Subject of the new conversation"), max_length=255, required=False
    )

    def __init__(self, *args: Any, message_ids: list[int], **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        field = self.fields["messages"]
        assert isinstance(field, forms.TypedMultipleChoiceField)
        field.choices = [(str(pk), str(pk)) for pk in message_ids]
        field.error_messages["required"] = _("Choose the messages to split off.")
