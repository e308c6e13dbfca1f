# ruff: noqa: E501  (table rows are kept whole, as docs/api.md has them)
"""The error answers of the JSON APIs, as tables: in the OpenAPI document's description
(``admit.api``) and, word for word, in docs/api.md ("Errors"; tests/http/test_openapi_contract.py
keeps the two the same). Change a row here and there together."""

from __future__ import annotations

# (HTTP status, when it is answered)
STATUSES: tuple[tuple[str, str], ...] = (
    (
        "400",
        'the request is malformed: not JSON, not an object, a wrong type, a missing field. `sub_status` is `E008002` and/or `E008003`, and `details` lists `{"field", "problem"}` pairs',
    ),
    (
        "401",
        "a remote server's credentials are missing or wrong (`/api/v1/remotes/`; with `WWW-Authenticate`)",
    ),
    (
        "403",
        "the request is well-formed but refused: the codes below. Fields that are each well-formed but do not go together (neither `name` nor `data`, both `ust` and `current_ust`, a create without `value`, a `PATCH /zato/sso/user` that changes nothing, an attribute value over 16 KiB once serialised) are refused with 403 and `E008002`/`E008003` with `details`, as Zato does: the OpenAPI document states rules field by field only",
    ),
    ("429", "a rate limit or a log-in pause; `Retry-After` says how many seconds to wait"),
    ("404, 405", "no such endpoint, or a method it does not take (`E008002`; 405 carries `Allow`)"),
    ("413", "the body is over 64 KiB (`E008002`)"),
    ("503", "the database cannot be reached (`E011001`); retry after the `Retry-After` seconds"),
)

# (code, what it means, the policy switch that hides it; empty: always shown)
CODES: tuple[tuple[str, str, str], ...] = (
    (
        "E001001",
        'username invalid (empty, invisible characters, mixed scripts or another look-alike, contains a reserved word: see "What a username may contain")',
        "`inform_if_user_invalid = false`",
    ),
    ("E001002", "username already taken", "`inform_if_user_exists = false`"),
    (
        "E001003",
        "username too long (over `username_max_length`, 128)",
        "`inform_if_user_invalid = false`",
    ),
    ("E001004", "whitespace in the username", "`inform_if_user_invalid = false`"),
    (
        "E002001",
        "e-mail address invalid (or contains a reserved word)",
        "`inform_if_email_invalid = false`",
    ),
    (
        "E002002",
        "e-mail address already has an account",
        "shown only with `inform_if_email_exists = true`",
    ),
    ("E002003", "e-mail address too long (over 254)", "`inform_if_email_invalid = false`"),
    ("E002004", "whitespace in the e-mail address", "`inform_if_email_invalid = false`"),
    ("E002005", "e-mail address empty", "`inform_if_email_invalid = false`"),
    ("E003001", "password is among the most common ones", "`inform_if_password_invalid = false`"),
    (
        "E003002",
        "password too short (under `[password] min_length`)",
        "`inform_if_password_invalid = false`",
    ),
    (
        "E003003",
        "password too long (over `[password] max_length`)",
        "`inform_if_password_invalid = false`",
    ),
    ("E001100", "no user has this `user_id` (a super-user's call)", ""),
    ("E003004", "password expired", "`[login] inform_if_password_expired = false`"),
    ("W003005", "password about to expire (a warning, with a session)", ""),
    (
        "E003006",
        'password about to expire, and `[password] about_to_expire = "refuse"`: no session',
        "",
    ),
    ("E003007", "password must be changed: log in again with `new_password`", ""),
    (
        "E003008",
        'Zato\'s "not complex enough" (a zxcvbn score): not used; admit refuses the most common passwords instead (`E003001`)',
        "",
    ),
    ("E004001", "unknown app, or the app may not log users in", ""),
    ("E004002", "the app may not sign users up", ""),
    (
        "E005001",
        "not allowed: the generic refusal (sign-up switched off, wrong credentials, no such user, a hidden code)",
        "",
    ),
    ("E005002", "user locked", "at log-in: `[login] inform_if_locked = false`"),
    (
        "E005003",
        "user has not confirmed the sign-up",
        "at log-in: `[login] inform_if_not_confirmed = false`",
    ),
    ("E005004", "user not approved yet", "at log-in: `[login] inform_if_not_approved = false`"),
    (
        "E005005",
        "a super-user is required: kept in the audit log; callers see `E005001`, as Zato answers",
        "",
    ),
    ("E005006", "no such confirm token (unknown, malformed, expired or revoked)", ""),
    ("E005007", "confirm token already used", ""),
    ("E005008", "a TOTP code is required (log-in without `totp_code`)", ""),
    (
        "E005009",
        "wrong, stale or already used TOTP code — in the audit log and on the pages only; API callers get `E005001`",
        "never shown by the API",
    ),
    (
        "E006001",
        "the app may not send log-in metadata (`remote_addr`, `user_agent`): `[apps] login_metadata_allowed`",
        "",
    ),
    ("E006002", "removed: a wrong TOTP code is `E005001` (`E005009` in the audit log)", ""),
    ("E007001", "no such session (also: no `target_ust` where one is required)", ""),
    ("E007002", "session expired", ""),
    ("E008001", "invalid operation", ""),
    ("E008002", "invalid input", ""),
    ("E008003", "missing input", ""),
    ("E008004", "internal error", ""),
    ("E009001", "attribute already exists", ""),
    ("E009002", "no such attribute", ""),
    ("E009003", "too many attributes on one user or session", ""),
    (
        "E010001",
        "password reset: the token or reset key cannot be used (unknown, malformed, expired, spent, not matching)",
        "",
    ),
    ("E011001", "service unavailable: the database cannot be reached; retry (HTTP 503)", ""),
)


def markdown_tables() -> str:
    """Both tables in Markdown, as docs/api.md shows them."""
    status_rows = [f"| {status} | {when} |" for status, when in STATUSES]
    code_rows = [
        f"| {code} | {meaning} | {shown} |".replace("|  |", "| |") for code, meaning, shown in CODES
    ]
    return "\n".join(
        ["| HTTP | when |", "|---|---|", *status_rows, "", "| code | meaning | shown unless |"]
        + ["|---|---|---|", *code_rows]
    )
