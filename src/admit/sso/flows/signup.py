"""Sign-up and its confirmation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import IntegrityError

from admit.audit.log import AuditEntry, audited
from admit.confirmations import engine as confirmations
from admit.confirmations.engine import Outcome
from admit.confirmations.models import Confirmation
from admit.core import clock, unit_of_work
from admit.core.context import Caller
from admit.core.emails import masked
from admit.core.errors import AdmitError, Code
from admit.core.ratelimit import hit
from admit.core.secrets import new_public_id
from admit.mail.outbox import enqueue
from admit.sso import queries
from admit.sso.models import User, normalize_email, normalize_username
from admit.sso.rules import SignupRequest, local_path, signup_problems

SIGNUP = "signup"
# The confirmations that earlier versions handed out instead of a real token to a sign-up for
# a taken address; still confirmed (doing nothing) until they expire.
SIGNUP_EMAIL_TAKEN = "signup_email_taken"
AWAITING_APPROVAL = (
    "Your address is confirmed. A super-user will review your sign-up; you will get an e-mail then."
)


@dataclass(frozen=True)
class SignupResult:
    confirm_token: str | None
    user_id: str | None


class _EmailTakenMeanwhile(Exception):
    """Another sign-up took the address between this one's read and its write."""


def signup(request: SignupRequest, caller: Caller, *, token_in_answer: bool = True) -> SignupResult:
    """``token_in_answer``: whether the caller may get the confirm token back (the API and
    the Python API; ``[signup] return_confirm_token`` decides whether it does). The sign-up
    page never shows it, so following its e-mailed link proves that the address is theirs."""
    try:
        return _signup(request, caller, token_in_answer)
    except _EmailTakenMeanwhile:
        return _signup(request, caller, token_in_answer)  # the read now sees the address taken


def _signup(request: SignupRequest, caller: Caller, token_in_answer: bool) -> SignupResult:
    """The user's row, its confirmation, its e-mail and the audit row go to the database
    together at the end (``deferred``), in one transaction after the hash. The unique indexes
    decide between concurrent sign-ups for one name; ``_conflict`` names the loser's refusal.

    A sign-up for an address that already has an account, while ``[signup]
    inform_if_email_exists`` is off, does the same work and answers the same: its row
    (``holds_taken_email``) holds the username, gets a confirmation and answers log-in as any
    unconfirmed or unapproved sign-up; but it is never approved, and the e-mail goes to the
    address's owner, telling them someone tried (docs/security.md says what this hides when).

    Confirming proves that the address is the person's (``User.email_verified``) only when the
    token went to that address and nowhere else: not when the answer carries it, which whoever
    made the sign-up reads without the mailbox."""
    policy = settings.ADMIT_POLICY
    with audited("signup", caller, app=request.current_app, deferred=True) as audit:
        audit.extra_data = {"username": request.username[:128]}
        unit_of_work.on_conflict(_conflict)
        owner = _check_allowed(request, caller, audit)
        user = _new_user(request, make_password(request.password), caller)
        audit.target_user_id = user.user_id
        if owner is not None:
            user.holds_taken_email = True
            enqueue("signup_email_taken", owner.email, {"user": owner})
        if not policy.signup.confirmation_required:
            _confirm(user, audit)
            unit_of_work.insert_later(user)
            return SignupResult(confirm_token=None, user_id=user.user_id)
        unit_of_work.insert_later(user)
        shown = token_in_answer and policy.signup.return_confirm_token
        proves = user.email_key if owner is None and not shown else ""
        token = confirmations.create(user, SIGNUP, proves_email_key=proves)
        if owner is None:
            enqueue("signup_confirm", user.email, {"user": user, "link": confirmations.link(token)})
        return SignupResult(confirm_token=token if shown else None, user_id=user.user_id)


def _check_allowed(request: SignupRequest, caller: Caller, audit: AuditEntry) -> User | None:
    """Every problem of the request at once (its apps, the validation rules, a taken username
    and, when the policy tells it, a taken address), or the account that owns its address.

    The username and the address are looked up in one read made for every sign-up that gets
    this far, before any problem is raised, and an address's account is never among the
    problems while ``inform_if_email_exists`` is off: a refusal's codes and its time are the
    same whether or not the address has an account (the audit row says it: ``email_taken``)."""
    policy = settings.ADMIT_POLICY
    if not policy.signup.enabled:
        raise AdmitError(Code.NOT_ALLOWED, "sign-up is switched off")
    if caller.remote_ip:
        hit("signups-address", caller.remote_ip, policy.rate_limits.signups_per_address)
    taken = queries.signup_conflicts(
        normalize_username(request.username),
        normalize_email(request.email) if request.email else "",
    )
    if taken.owner is not None:
        audit.extra_data["email_taken"] = True
    problems = _app_problems(request) + signup_problems(
        request,
        policy,
        username_taken=taken.username_taken,
        email_taken=taken.owner is not None and policy.signup.inform_if_email_exists,
    )
    if problems:
        raise AdmitError(problems, "sign-up refused by the validation rules")
    return taken.owner


def _app_problems(request: SignupRequest) -> list[Code]:
    apps = settings.ADMIT_POLICY.apps
    problems = []
    if request.current_app not in apps.all or any(a not in apps.all for a in request.app_list):
        problems.append(Code.APP_INVALID)
    if request.current_app in apps.all and request.current_app not in apps.signup_allowed:
        problems.append(Code.APP_SIGNUP_NOT_ALLOWED)
    return problems


def _new_user(request: SignupRequest, password_hash: str, caller: Caller) -> User:
    return User(
        user_id=new_public_id("zusr"),
        username=request.username,
        username_key=normalize_username(request.username),
        email=request.email,
        email_key=normalize_email(request.email) if request.email else "",
        password=password_hash,
        display_name=request.display_name,
        sign_up_time=clock.now(),
        signup_app=request.current_app,
        creation_ctx={"source": "signup", "current_app": request.current_app},
        app_list=list(dict.fromkeys(request.app_list)),
        remote_ip=caller.remote_ip,
        remote_addr=request.remote_addr[:255],
        return_to=local_path(request.return_to),
    )


def _conflict(exc: IntegrityError) -> Exception:
    """Which unique index refused the new user: the name, or the address, taken meanwhile."""
    if "email_key" not in str(exc):
        return AdmitError(Code.USERNAME_EXISTS, "username taken")
    if not settings.ADMIT_POLICY.signup.inform_if_email_exists:
        return _EmailTakenMeanwhile()
    return AdmitError(Code.EMAIL_EXISTS, "e-mail address taken")


def sweep_held_signups() -> int:
    """Remove the rows that held a username for a sign-up with a taken address once its
    confirmation has expired; the username is free again."""
    max_age = settings.ADMIT_POLICY.signup.confirm_token_max_age
    expired = clock.now() - timedelta(seconds=max_age)
    held = User.with_held_signups.filter(holds_taken_email=True, sign_up_time__lt=expired)
    return held.delete()[0]


def confirm_signup(confirm_token: str, caller: Caller) -> None:
    """E005006 for a malformed, unknown, expired or revoked token; E005007 for a spent one."""
    confirmations.confirm(confirm_token, caller, kinds=(SIGNUP, SIGNUP_EMAIL_TAKEN))


def on_signup_confirmed(confirmation: Confirmation, audit: AuditEntry) -> Outcome:
    """The page after the confirmation: with a link back to where the person was going when
    they signed up (``User.return_to``) once they can log in; while a super-user must still
    approve, it says so, and the welcome e-mail will carry that link."""
    user = User.with_held_signups.select_for_update().get(pk=confirmation.object_id)
    audit.target_user_id = user.user_id
    audit.app = user.signup_app
    # The address the link went to, if a super-user has not changed it since.
    user.save(update_fields=_confirm(user, audit) + user.prove_email(confirmation.proves_email_key))
    app = user.signup_app or "the app"
    if user.is_approved:
        if user.return_to:
            return Outcome(
                "Your address is confirmed and your account is ready.",
                link=user.return_to,
                link_text=f"Continue to {app}",
            )
        return Outcome("Your address is confirmed and your account is ready: you can log in now.")
    if user.return_to and not user.holds_taken_email:
        return Outcome(f"{AWAITING_APPROVAL} Its link will bring you back to {app}.")
    return Outcome(AWAITING_APPROVAL)


def welcome_context(user: User) -> dict[str, object]:
    """The welcome e-mail's context: its link goes back to where the person was going when
    they signed up (``User.return_to``), else to the log-in page."""
    return {"user": user, "link": settings.ADMIT_BASE_URL + (user.return_to or "/login/")}


def on_taken_email_confirmed(confirmation: Confirmation, audit: AuditEntry) -> Outcome:
    audit.extra_data["email_taken"] = True
    return Outcome(AWAITING_APPROVAL)


def describe_signup(confirmation: Confirmation) -> str:
    """Whose sign-up, which address (partly masked: the page is for whoever holds the link)
    and for which app."""
    user = User.with_held_signups.filter(pk=confirmation.object_id).first()
    if user is None:
        return "a sign-up that no longer exists."
    app = f" for {user.signup_app}" if user.signup_app else ""
    return (
        f"the sign-up of {user.username}{app}, with the e-mail address {masked(user.email)}:"
        " press the button to confirm that this address is yours."
    )


def _confirm(user: User, audit: AuditEntry) -> list[str]:
    """The sign-up is confirmed (by its token, or at once when the policy asks for no
    confirmation): approve at once when the policy does not ask a super-user. Returns the
    fields changed on ``user``, for the caller to save. Whether this proved the address is the
    caller's to say (``User.prove_email``)."""
    policy = settings.ADMIT_POLICY.signup
    now = clock.now()
    user.confirmed_at = now
    fields = ["confirmed_at"]
    if user.holds_taken_email:
        return fields  # no account to approve
    if not policy.approval_required:
        user.approval_status = User.Approval.APPROVED
        user.approval_status_mod_time = now
        fields += ["approval_status", "approval_status_mod_time"]
        audit.extra_data["auto_approved"] = True
        if policy.send_welcome_email:
            enqueue("welcome", user.email, welcome_context(user))
    return fields
