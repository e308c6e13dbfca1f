"""Which refusal codes a caller may see; the rest collapse to the generic E005001.

The operator chooses with the ``inform_if_*`` keys of ``[signup]`` (applied here, to every
flow that validates names, addresses and passwords) and of ``[login]`` (applied by the log-in
flow, which sets ``AdmitError.shown``). The audit log always keeps the true codes.
"""

from __future__ import annotations

from django.conf import settings

from admit.core.errors import AdmitError, Code

_REVEALED_BY = {
    Code.USERNAME_EXISTS: "inform_if_user_exists",
    Code.USERNAME_INVALID: "inform_if_user_invalid",
    Code.USERNAME_TOO_LONG: "inform_if_user_invalid",
    Code.USERNAME_HAS_WHITESPACE: "inform_if_user_invalid",
    Code.EMAIL_EXISTS: "inform_if_email_exists",
    Code.EMAIL_INVALID: "inform_if_email_invalid",
    Code.EMAIL_TOO_LONG: "inform_if_email_invalid",
    Code.EMAIL_HAS_WHITESPACE: "inform_if_email_invalid",
    Code.EMAIL_MISSING: "inform_if_email_invalid",
    Code.PASSWORD_COMMON: "inform_if_password_invalid",
    Code.PASSWORD_TOO_SHORT: "inform_if_password_invalid",
    Code.PASSWORD_TOO_LONG: "inform_if_password_invalid",
}


# Zato answers every call that needs a super-user with the generic E005001; so does admit
# (the audit log keeps E005005).
_ALWAYS_GENERIC = {Code.SUPERUSER_REQUIRED}


def visible_codes(error: AdmitError) -> list[str]:
    if error.shown is not None:
        return list(error.shown)
    signup_policy = settings.ADMIT_POLICY.signup
    visible: list[str] = []
    for code in error.codes:
        flag = _REVEALED_BY.get(code)
        revealed = flag is None or getattr(signup_policy, flag)
        shown = code if revealed and code not in _ALWAYS_GENERIC else Code.NOT_ALLOWED
        if shown not in visible:
            visible.append(shown)
    return visible
