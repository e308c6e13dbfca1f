"""The console's forms, and the flows' error codes in plain words."""

from __future__ import annotations

from django import forms
from django.conf import settings

from admit.core.errors import AdmitError, Code
from admit.core.names import LINE_BREAKS, WHITESPACE_CONTROLS, control_character
from admit.sso.forms import no_control_characters

NO_CONTROLS = [no_control_characters()]
# Tabs and line breaks are whitespace: the flows refuse it in usernames and addresses in their
# own words, and a password keeps it as typed.
KEEP_WHITESPACE = [no_control_characters(WHITESPACE_CONTROLS)]

PLAIN_WORDS: dict[str, str] = {
    Code.USERNAME_INVALID: "That username is not allowed.",
    Code.USERNAME_EXISTS: "That username is taken.",
    Code.USERNAME_TOO_LONG: "That username is too long.",
    Code.USERNAME_HAS_WHITESPACE: "A username cannot contain spaces.",
    Code.EMAIL_INVALID: "That e-mail address is not valid or not allowed.",
    Code.EMAIL_EXISTS: "That e-mail address already has an account.",
    Code.EMAIL_TOO_LONG: "That e-mail address is too long.",
    Code.EMAIL_HAS_WHITESPACE: "An e-mail address cannot contain spaces.",
    Code.EMAIL_MISSING: "An e-mail address is required.",
    Code.PASSWORD_COMMON: "That password is too common.",
    Code.PASSWORD_TOO_SHORT: "That password is too short.",
    Code.PASSWORD_TOO_LONG: "That password is too long.",
    Code.NOT_ALLOWED: "Not allowed: the user may no longer exist, or the change is refused.",
    Code.USER_LOCKED: "The account is locked.",
    Code.USER_NOT_CONFIRMED: "Not confirmed yet: the person has not confirmed their e-mail.",
    Code.USER_NOT_APPROVED: "The account is not approved yet.",
    Code.SUPERUSER_REQUIRED: "Only super-users may do this.",
    Code.NO_SUCH_SESSION: "That session does not exist any more.",
    Code.SESSION_EXPIRED: "Your session has expired; please log in again.",
    Code.INPUT_INVALID: "Some input is not valid.",
    Code.INPUT_MISSING: "Some input is missing.",
}

# The audit log's error rows: the words above, and the codes whose notices say the flow's own
# message instead (it is more precise there). Every code has words here (tests/console).
AUDIT_WORDS: dict[str, str] = {
    **PLAIN_WORDS,
    Code.USER_ID_INVALID: "No user has this id.",
    Code.PASSWORD_EXPIRED: "The password has expired.",
    Code.PASSWORD_EXPIRING: "The password is about to expire.",
    Code.PASSWORD_ABOUT_TO_EXPIRE: "The password is about to expire; no session was started.",
    Code.PASSWORD_MUST_CHANGE: "The password must be changed first.",
    Code.APP_INVALID: "Unknown app, or the app may not log people in.",
    Code.APP_SIGNUP_NOT_ALLOWED: "The app takes no sign-ups.",
    Code.NO_SUCH_CONFIRM_TOKEN: "Unknown, malformed, expired or revoked confirmation token.",
    Code.ALREADY_CONFIRMED: "The confirmation token was already used.",
    Code.TOTP_CODE_MISSING: "A two-step verification code is required.",
    Code.TOTP_CODE_INVALID: "Wrong, stale or already used two-step verification code.",
    Code.METADATA_NOT_ALLOWED: "The app may not send log-in metadata.",
    Code.INVALID_OPERATION: "Not a valid operation.",
    Code.INTERNAL_ERROR: "Internal error.",
    Code.ATTRIBUTE_EXISTS: "The attribute already exists.",
    Code.NO_SUCH_ATTRIBUTE: "No such attribute.",
    Code.TOO_MANY_ATTRIBUTES: "Too many attributes.",
    Code.RESET_TOKEN_UNUSABLE: "The password-reset token or key cannot be used.",
    Code.SERVICE_UNAVAILABLE: "The database could not be reached.",
    # What the OpenID Connect provider told a client (admit.sso.oidc.record's ``refused``):
    # OAuth's error codes, and admit's own for a rate limit.
    "access_denied": "The person declined, cancelled, or may not use the app.",
    "login_required": "The app asked not to show a log-in page, and nobody was logged in.",
    "consent_required": "The app asked not to show the consent page, and it was needed.",
    "rate_limited": "Too many token requests from this client; it was told to slow down.",
    "invalid_request": "The app's request was malformed or lacked a parameter.",
    "invalid_client": "The client could not be authenticated (unknown id or wrong secret).",
    "invalid_grant": "Unknown, expired, used or revoked code or refresh token.",
    "unauthorized_client": "The client may not use this grant.",
    "unsupported_grant_type": "A grant type admit does not offer.",
    "invalid_scope": "A scope admit does not offer.",
    "unsupported_token_type": "A token type admit cannot revoke.",
    "server_error": "admit failed while answering.",
    "error": "The endpoint refused without naming an OAuth error.",
}

# What each event of the audit log means, shown under its name on the audit page. Every
# OpenID Connect event has words here (tests/console/test_audit.py checks the sources).
EVENT_WORDS: dict[str, str] = {
    "oidc.client_add": "An OpenID Connect client was registered for an app.",
    "oidc.client_rotate_secret": "A client got a new secret; the old one stopped working.",
    "oidc.client_remove": "A client was removed, with its consents and tokens.",
    "oidc.key_rotate": "New keys to sign ID tokens were put in use (admit oidc rotate-key).",
    "oidc.authorize": "An app asked to log a person in: a code was issued, or refused.",
    "oidc.consent": "A person allowed an app to use their account, or declined.",
    "oidc.consent_revoke": "A person took back an app's access on their account page.",
    "oidc.token": "An app exchanged an authorization code for tokens.",
    "oidc.refresh": "An app renewed its tokens with a refresh token.",
    "oidc.code_reuse": "An authorization code was used twice: the tokens from it were revoked.",
    "oidc.refresh_reuse": "A refresh token was used again after it was replaced: the tokens"
    " descended from it were revoked.",
    "oidc.revoke": "An app revoked one of its tokens.",
    "oidc.logout": "A person logged out through an app (OpenID Connect log-out).",
}


def words_for(code: str) -> str:
    """One code of the audit log in words (a code this version does not know: the code)."""
    return AUDIT_WORDS.get(code, "Unknown code.")


# Which form field a code is about, so the create-user form shows it next to that field.
FIELD_OF = {
    "E001": "username",
    "E002": "email",
    "E003": "password",
}


def plain(error: AdmitError) -> str:
    """The error in words an operator reads, the codes after them for a support request."""
    codes = error.shown or error.codes
    words = " ".join(dict.fromkeys(PLAIN_WORDS.get(code, error.message) for code in codes))
    return f"{words} ({', '.join(codes)})"


def app_choices(empty: str) -> list[tuple[str, str]]:
    return [("", empty)] + [(app, app) for app in settings.ADMIT_POLICY.apps.all]


class QueueFilter(forms.Form):
    status = forms.ChoiceField(
        required=False,
        choices=[("", "All pending"), ("to-confirm", "To confirm"), ("to-approve", "To approve")],
    )
    app = forms.ChoiceField(required=False, label="App")
    page = forms.IntegerField(required=False, min_value=1)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["app"].choices = app_choices("All apps")  # type: ignore[attr-defined]


class QueueAction(forms.Form):
    action = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")])
    user_id = forms.CharField(max_length=32, required=False, validators=NO_CONTROLS)
    reason = forms.CharField(
        max_length=500, required=False, validators=[no_control_characters(LINE_BREAKS)]
    )
    # A rejection deletes the account: the queue's "Reject" buttons lead to a page that asks
    # for the reason (the rejection e-mail carries it) and a second press; only that page's
    # button sends ``confirmed``.
    confirmed = forms.BooleanField(required=False)

    def user_ids(self) -> list[str]:
        """The one user of a row's button, or the ticked boxes of a bulk action (at most
        100, none with a control character; the flows refuse ids that are not pending
        sign-ups)."""
        one = self.cleaned_data.get("user_id")
        if one:
            return [one]
        selected = self.data.getlist("selected")  # type: ignore[attr-defined]
        usable = [value for value in selected if value and control_character(value) is None]
        return [value[:32] for value in usable][:100]


SEARCH_FIELDS = [
    ("username", "Username"),
    ("email", "E-mail"),
    ("display_name", "Display name"),
    ("user_id", "User id"),
    ("last_name", "Last name"),
]


class UserSearch(forms.Form):
    q = forms.CharField(required=False, max_length=254, label="Search", validators=NO_CONTROLS)
    field = forms.ChoiceField(required=False, choices=SEARCH_FIELDS, label="in")
    approval = forms.ChoiceField(
        required=False,
        label="Approval",
        choices=[("", "Any"), ("before_decision", "Pending"), ("approved", "Approved")],
    )
    page = forms.IntegerField(required=False, min_value=1)


class NewUserForm(forms.Form):
    username = forms.CharField(max_length=128, validators=KEEP_WHITESPACE)
    email = forms.CharField(max_length=254, label="E-mail", validators=KEEP_WHITESPACE)
    password = forms.CharField(
        max_length=256,
        widget=forms.PasswordInput(render_value=True),
        validators=KEEP_WHITESPACE,
    )
    display_name = forms.CharField(max_length=256, required=False, validators=NO_CONTROLS)
    auto_approve = forms.BooleanField(required=False, initial=True, label="Approve at once")
    password_must_change = forms.BooleanField(
        required=False, label="Must change the password at first log-in"
    )
    is_superuser = forms.BooleanField(required=False, label="Super-user")

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.label_suffix = ""
        self.fields["username"].widget.attrs["autocomplete"] = "off"
        self.fields["email"].widget.attrs["autocomplete"] = "off"
        self.fields["password"].widget.attrs["autocomplete"] = "new-password"

    def add_flow_error(self, error: AdmitError) -> None:
        codes = error.shown or error.codes
        placed = False
        for code in codes:
            name = FIELD_OF.get(code[:4])
            if name:
                self.add_error(name, PLAIN_WORDS.get(code, error.message))
                placed = True
        if not placed:
            self.add_error(None, plain(error))


def _uri_lines(text: str, field: str) -> list[str]:
    """One address a line, each checked as admit.sso.oidc.clients takes it; the errors name
    the address they are about."""
    from admit.sso.oidc.clients import check_uri

    uris = [line.strip() for line in text.splitlines() if line.strip()]
    problems = []
    for uri in uris:
        try:
            check_uri(uri, field)
        except AdmitError as error:
            problem = error.message.removeprefix(f"{field}: ")
            problems.append(f"{uri[:100]}: {problem}")
    if problems:
        raise forms.ValidationError(problems)
    return uris


class NewClientForm(forms.Form):
    """``admit apps add-client`` as a form; the secret is shown once on the page after it."""

    app = forms.ChoiceField(label="App")
    redirect_uris = forms.CharField(
        label="Redirect URIs",
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false", "autocomplete": "off"}),
        max_length=20000,
        help_text="One a line: where admit may send the browser back with a code. https://, or"
        " http:// on 127.0.0.1, [::1] or localhost; matched exactly.",
    )
    post_logout_redirect_uris = forms.CharField(
        label="Post-logout redirect URIs (optional)",
        required=False,
        max_length=20000,
        widget=forms.Textarea(attrs={"rows": 2, "spellcheck": "false", "autocomplete": "off"}),
        help_text="One a line: where admit may send the browser after logging out.",
    )
    public = forms.BooleanField(
        required=False,
        label="Public client (a single-page or native app): no secret, PKCE required",
    )
    skip_consent = forms.BooleanField(
        required=False, label="Do not ask people to allow the app (the organisation's own apps)"
    )
    algorithm = forms.ChoiceField(
        label="ID token signature",
        choices=[("RS256", "RS256 (RSA, the default)"), ("ES256", "ES256 (ECDSA P-256)")],
        initial="RS256",
    )
    refresh_id_token = forms.BooleanField(
        required=False,
        label="Answer every refresh with a new ID token too (for apps that want one, such as"
        " kubelogin)",
    )

    # The flow's field names (InputError details) and the form's.
    FIELDS = {
        "app": "app",
        "redirect_uri": "redirect_uris",
        "post_logout_redirect_uri": "post_logout_redirect_uris",
        "algorithm": "algorithm",
    }

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.label_suffix = ""
        self.fields["app"].choices = app_choices("Choose an app")  # type: ignore[attr-defined]

    def clean_redirect_uris(self) -> list[str]:
        uris = _uri_lines(self.cleaned_data["redirect_uris"], "redirect_uri")
        if not uris:
            raise forms.ValidationError("Give at least one redirect URI.")
        return uris

    def clean_post_logout_redirect_uris(self) -> list[str]:
        return _uri_lines(
            self.cleaned_data["post_logout_redirect_uris"], "post_logout_redirect_uri"
        )

    def add_flow_error(self, error: AdmitError) -> None:
        details = getattr(error, "details", [])
        placed = False
        for detail in details:
            name = self.FIELDS.get(detail.get("field", ""))
            if name:
                self.add_error(name, f"{detail.get('problem', error.message)}.")
                placed = True
        if not placed:
            self.add_error(None, plain(error))


class AuditFilterForm(forms.Form):
    user_id = forms.CharField(
        required=False, max_length=32, label="User id", validators=NO_CONTROLS
    )
    app = forms.ChoiceField(required=False, label="App")
    event = forms.ChoiceField(required=False, label="Event")
    outcome = forms.ChoiceField(
        required=False, choices=[("", "Any"), ("ok", "ok"), ("error", "error")]
    )
    since = forms.DateField(required=False, label="From (UTC date)")
    until = forms.DateField(required=False, label="To (UTC date)")
    page = forms.IntegerField(required=False, min_value=1)

    def __init__(self, *args: object, events: list[str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.label_suffix = ""
        self.fields["app"].choices = app_choices("All apps")  # type: ignore[attr-defined]
        self.fields["event"].choices = [("", "All events")] + [(e, e) for e in events]  # type: ignore[attr-defined]
        for name in ("since", "until"):
            self.fields[name].widget.input_type = "date"  # type: ignore[attr-defined]
