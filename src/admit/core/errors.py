"""The one domain error type and its machine codes (the seed's ``sub_status`` values)."""

from __future__ import annotations

from enum import StrEnum


class Code(StrEnum):
    """Zato's numbering (``zato.sso.status_code``) where Zato has a code for the fact; admit's
    own facts take numbers Zato never used. docs/api.md lists them all."""

    USERNAME_INVALID = "E001001"
    USERNAME_EXISTS = "E001002"
    USERNAME_TOO_LONG = "E001003"
    USERNAME_HAS_WHITESPACE = "E001004"
    USER_ID_INVALID = "E001100"
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
    PASSWORD_ABOUT_TO_EXPIRE = "E003006"
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
    TOTP_CODE_MISSING = "E005008"
    # admit's own: kept in the audit log and used by the pages; API callers see E005001.
    TOTP_CODE_INVALID = "E005009"
    METADATA_NOT_ALLOWED = "E006001"
    NO_SUCH_SESSION = "E007001"
    SESSION_EXPIRED = "E007002"
    INVALID_OPERATION = "E008001"
    INPUT_INVALID = "E008002"
    INPUT_MISSING = "E008003"
    INTERNAL_ERROR = "E008004"
    ATTRIBUTE_EXISTS = "E009001"
    NO_SUCH_ATTRIBUTE = "E009002"
    # admit's own: a user or session already has [attributes] max_per_owner attributes.
    TOO_MANY_ATTRIBUTES = "E009003"
    RESET_TOKEN_UNUSABLE = "E010001"
    # admit's own: the database cannot be reached (HTTP 503, Retry-After).
    SERVICE_UNAVAILABLE = "E011001"


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


class RefusedByRule(InputError):
    """Input that the OpenAPI document allows, refused by a rule it cannot state field by
    field: fields that do not go together (neither of two alternatives, or both), nothing to
    change, a value too long once serialised. HTTP 403 with E008002/E008003 and details, as
    Zato refuses these with 403."""


class Unauthenticated(AdmitError):
    """The caller did not say who it is, or its credentials are not good."""


class NotFound(AdmitError):
    """What the request names does not exist (for a caller allowed to know that)."""
