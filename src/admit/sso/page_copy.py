"""What the people-facing pages say when a flow refuses: one plain sentence per visible code,
placed next to the field it concerns, never the code itself.

Only the codes ``admit.sso.disclosure`` lets a caller see are told; any other refusal gets
the page's generic sentence, so a page reveals no more than the API would.
"""

from __future__ import annotations

import math

from django.conf import settings

from admit.core.errors import AdmitError, Code
from admit.core.ratelimit import RateLimited
from admit.sso.disclosure import visible_codes

FORM = "form"  # the problems of no one field, shown at the top of the form
Problems = dict[str, list[str]]

# Which field each code concerns; the sentence is in ``sentence``.
_FIELD_BY_PREFIX = {"E001": "username", "E002": "email", "E003": "password"}


def sentence(code: str, on: str = "") -> str:
    policy = settings.ADMIT_POLICY
    sentences = {
        Code.USERNAME_INVALID: "This username cannot be used: it is empty, has invisible"
        " characters or contains a reserved word. Choose another one.",
        Code.USERNAME_EXISTS: "This username is taken. Choose another one.",
        Code.USERNAME_TOO_LONG: "This username is too long: use at most"
        f" {policy.user_validation.username_max_length} characters.",
        Code.USERNAME_HAS_WHITESPACE: "A username cannot contain spaces.",
        Code.EMAIL_INVALID: "This is not an e-mail address we can use. Check it for typos.",
        Code.EMAIL_EXISTS: "This e-mail address already has an account.",
        Code.EMAIL_TOO_LONG: "This e-mail address is too long: at most"
        f" {policy.user_validation.email_max_length} characters.",
        Code.EMAIL_HAS_WHITESPACE: "An e-mail address cannot contain spaces.",
        Code.EMAIL_MISSING: "Enter your e-mail address.",
        Code.PASSWORD_COMMON: "This password is one of the most common ones."
        " Choose one that is harder to guess.",
        Code.PASSWORD_TOO_SHORT: "This password is too short: use at least"
        f" {policy.password.min_length} characters.",
        Code.PASSWORD_TOO_LONG: "This password is too long: use at most"
        f" {policy.password.max_length} characters.",
        Code.PASSWORD_EXPIRED: "Your password has expired. Choose a new one with"
        " “Forgot your password?”.",
        Code.PASSWORD_MUST_CHANGE: "You must choose a new password before you continue."
        " Enter your current password again and a new one.",
        Code.APP_INVALID: "This application is unknown or does not let people log in here.",
        Code.APP_SIGNUP_NOT_ALLOWED: "This application does not take sign-ups.",
        Code.USER_LOCKED: "This account is locked. Ask the administrators to unlock it.",
        Code.USER_NOT_CONFIRMED: "You have not confirmed your e-mail address yet. Open the"
        " link in the e-mail we sent you when you signed up, then log in.",
        Code.USER_NOT_APPROVED: "Your sign-up is waiting for approval. We will e-mail you"
        " when it is approved; you can log in then.",
        Code.NO_SUCH_CONFIRM_TOKEN: "This reset token is unknown or has expired."
        " Ask for a new one.",
        Code.ALREADY_CONFIRMED: "This reset token was already used. Ask for a new one.",
        Code.RESET_TOKEN_UNUSABLE: "This reset link cannot be used any more: it is unknown,"
        " has expired or was already used. Ask for a new one.",
        Code.PASSWORD_ABOUT_TO_EXPIRE: "Your password is about to expire. Choose a new one"
        " with “Forgot your password?”, then log in.",
        Code.METADATA_NOT_ALLOWED: "This application may not log people in this way.",
        Code.TOTP_CODE_MISSING: "Enter the 6-digit code from your authenticator app.",
        Code.TOTP_CODE_INVALID: "This code is wrong or was already used."
        " Wait for the next one and try again.",
    }
    generic = {
        "signup": "We could not sign you up with these details.",
        "login": "The username or the password is not right.",
        "login-totp": "The password or the code is not right. If the code was right, wait"
        " for the next one and try again.",
        "change": "The current password is not right.",
    }
    if code == Code.NOT_ALLOWED or code not in sentences:
        return generic.get(on, "This could not be done.")
    return sentences[Code(code)]


def problems(error: AdmitError, on: str, fields: dict[str, str] | None = None) -> Problems:
    """The visible codes of ``error`` as sentences, by the field they concern.

    ``fields`` renames a code's field for a form (the reset page's password is
    ``new_password``); codes of no field are the form's."""
    fields = fields or {}
    if isinstance(error, RateLimited):
        minutes = math.ceil(error.retry_after / 60)
        plural = "s" if minutes != 1 else ""
        return {FORM: [f"Too many attempts. Try again in {minutes} minute{plural}."]}
    found: Problems = {}
    for code in visible_codes(error):
        field = fields.get(code) or fields.get(code[:4]) or _FIELD_BY_PREFIX.get(code[:4], FORM)
        text = sentence(code, on)
        if text not in found.setdefault(field, []):
            found[field].append(text)
    return found
