"""The one domain error type and its machine codes (the seed's ``sub_status`` values)."""

from __future__ import annotations

from enum import StrEnum


class Code(StrEnum):
    USERNAME_INVALID = "E001001"
    USERNAME_EXISTS = "E001002"
    USERNAME_TOO_LONG = "E001003"
    USERNAME_HAS_WHITESPACE = "E001004"
    EMAIL_INVALID = "E002001"
    EMAIL_EXISTS = "E002002"
    EMAIL_TOO_LONG = "E002003"
    EMAIL_HAS_WHITESPACE = "E002004"
    EMAIL_MISSING = "E002005"
    PASSWORD_COMMON = "E003001"
    PASSWORD_TOO_SHORT = "E003002"
    PASSWORD_TOO_LONG = "E003003"
    PASSWORD_EXPIRED = "E003004"
    PASSWORD_EXPIRING = "W003005"
    PASSWORD_MUST_CHANGE = "E003007"
    APP_INVALID = "E004001"
    APP_SIGNUP_NOT_ALLOWED = "E004002"
    NOT_ALLOWED = "E005001"
    USER_LOCKED = "E005002"
    USER_NOT_CONFIRMED = "E005003"
    USER_NOT_APPROVED = "E005004"
    SUPERUSER_REQUIRED = "E005005"
    NO_SUCH_CONFIRM_TOKEN = "E005006"
    ALREADY_CONFIRMED = "E005007"
    TOTP_CODE_REQUIRED = "E006001"
    TOTP_CODE_INVALID = "E006002"
    NO_SUCH_SESSION = "E007001"
    SESSION_EXPIRED = "E007002"
    INPUT_INVALID = "E008002"
    INPUT_MISSING = "E008003"
    SERVICE_UNAVAILABLE = "E009001"


class AdmitError(Exception):
    """A refused operation: one or more codes for machines, a message for the operator's log.

    The message never contains a password or a token; adapters decide which codes a caller
    may see (see ``admit.sso.disclosure``) and which HTTP status each kind of refusal gets
    (``admit.http.statuses``). The subclasses below say what kind of refusal it is.
    """

    def __init__(self, codes: Code | list[Code], message: str, shown: list[Code] | None = None):
        self.codes = [codes] if isinstance(codes, Code) else list(codes)
        self.message = message
        # What a caller may see when the flow itself hides the true codes (the audit keeps them).
        self.shown = shown
        super().__init__(f"{','.join(self.codes)}: {message}")

    @property
    def code(self) -> Code:
        return self.codes[0]


class InputError(AdmitError):
    """A malformed or incomplete request: bad JSON, a wrong type, a missing field, a value
    that is not what the field takes."""

    def __init__(self, code: Code, message: str, details: list[dict[str, str]] | None = None):
        super().__init__(code, message)
        self.details = details or []


class Unauthenticated(AdmitError):
    """The caller did not say who it is, or its credentials are not good."""


class NotFound(AdmitError):
    """What the request names does not exist (for a caller allowed to know that)."""
