"""The pages' forms: they only parse what was posted. The flows judge it (their codes become
the sentences next to the fields), so nothing here duplicates a policy rule."""

from __future__ import annotations

from django import forms


def _text(max_length: int = 1024) -> forms.CharField:
    # Never stripped: whitespace in a username or address is the flow's to refuse, and a
    # password is kept as typed.
    return forms.CharField(required=False, strip=False, max_length=max_length)


class SignupForm(forms.Form):
    username = _text()
    email = _text()
    password = _text()
    display_name = _text(256)


class LoginForm(forms.Form):
    username = _text()
    password = _text()
    totp_code = _text(16)
    new_password = _text()


class ResetAskForm(forms.Form):
    credential = _text()


class ResetSetForm(forms.Form):
    token = _text(256)
    new_password = _text()
    new_password_again = _text()

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
    old_password = _text()
    new_password = _text()


class TotpForm(forms.Form):
    code = _text(16)
    current_code = _text(16)


class EndSessionForm(forms.Form):
    session_id = forms.IntegerField(min_value=1)
