"""The pages' forms: they only parse what was posted. The flows judge it (their codes become
the sentences next to the fields), so nothing here duplicates a policy rule."""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.core.exceptions import ValidationError

from admit.core.names import WHITESPACE_CONTROLS, control_character


def no_control_characters(keep: str = "") -> Callable[[str], None]:
    """A field validator refusing control characters (but ``keep``) and lone surrogates, as
    the API does (docs/api.md). NUL is left to the ``ProhibitNullCharactersValidator`` that
    Django gives every ``CharField``, so that it is not told twice."""

    def validate(value: str) -> None:
        found = control_character(value, keep + "\x00")
        if found:
            raise ValidationError(
                "This cannot contain control characters (%(character)s).",
                code="control_character",
                params={"character": found},
            )

    return validate


def _text(max_length: int = 1024, keep: str = "") -> forms.CharField:
    # Never stripped: whitespace in a username or address is the flow's to refuse, and a
    # password is kept as typed.
    return forms.CharField(
        required=False,
        strip=False,
        max_length=max_length,
        validators=[no_control_characters(keep)],
    )


def _password() -> forms.CharField:
    return _text(keep=WHITESPACE_CONTROLS)


def _name() -> forms.CharField:
    # A new username or address: the flow refuses its whitespace, tabs included, in words.
    return _text(keep=WHITESPACE_CONTROLS)


class SignupForm(forms.Form):
    username = _name()
    email = _name()
    password = _password()
    display_name = _text(256)


class LoginForm(forms.Form):
    username = _text()
    password = _password()
    totp_code = _text(16)
    new_password = _password()


class ResetAskForm(forms.Form):
    credential = _text()


class ResetSetForm(forms.Form):
    token = _text(256)
    new_password = _password()
    new_password_again = _password()

    def clean(self) -> dict[str, str]:
        data = super().clean() or {}
        if data.get("new_password") != data.get("new_password_again"):
            self.add_error("new_password_again", "The two passwords are not the same.")
        return data


class ProfileForm(forms.Form):
    display_name = _text(256)
    first_name = _text(128)
    last_name = _text(128)


class PasswordChangeForm(forms.Form):
    old_password = _password()
    new_password = _password()


class TotpForm(forms.Form):
    code = _text(16)
    current_code = _text(16)


class EndSessionForm(forms.Form):
    session_id = forms.IntegerField(min_value=1)


class RevokeAppForm(forms.Form):
    client_id = forms.CharField(max_length=100, validators=[no_control_characters()])
