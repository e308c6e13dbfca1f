"""The super-user's approval queue: list, approve, reject."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from django.conf import settings
from django.db.models import QuerySet

from admit.audit.log import audited
from admit.confirmations import engine as confirmations
from admit.core import clock
from admit.core.context import Caller
from admit.core.errors import AdmitError, Code
from admit.mail.outbox import enqueue
from admit.sso.flows.sessions import superuser_for
from admit.sso.flows.signup import welcome_context
from admit.sso.models import User

PendingStatus = Literal["to-approve", "to-confirm"]
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class PendingPage:
    users: list[User]
    total: int


def pending(status: PendingStatus | None = None, app: str = "") -> QuerySet[User]:
    """Sign-ups waiting for a super-user, oldest first: those still to confirm their address,
    those to approve, or (``status`` None) both; with ``app``, only those that signed up
    from it or list it in their ``app_list``. The caller checks the super-user."""
    waiting = User.objects.filter(approval_status=User.Approval.PENDING)
    if status == "to-confirm":
        waiting = waiting.filter(confirmed_at__isnull=True)
    elif status == "to-approve":
        waiting = waiting.filter(confirmed_at__isnull=False)
    if app:
        # app_list is JSON: filtered here rather than with a lookup SQLite lacks.
        wanted = [
            pk
            for pk, signup_app, app_list in waiting.values_list("pk", "signup_app", "app_list")
            if signup_app == app or app in (app_list or [])
        ]
        waiting = waiting.filter(pk__in=wanted)
    return waiting.order_by("sign_up_time", "id")


def list_pending(ust: str, status: PendingStatus, page: int, page_size: int) -> PendingPage:
    """Oldest sign-up first; ``page`` counts from 1."""
    superuser_for(ust)
    page_size = min(page_size, MAX_PAGE_SIZE)
    queue = pending(status)
    start = (page - 1) * page_size
    return PendingPage(users=list(queue[start : start + page_size]), total=queue.count())


def _waiting_user(user_id: str) -> User:
    user = User.objects.select_for_update().filter(user_id=user_id).first()
    if user is None:
        raise AdmitError(Code.USER_ID_INVALID, "no such user", shown=[Code.USER_ID_INVALID])
    return user


def approve(user_id: str, ust: str, caller: Caller) -> None:
    """Lets a confirmed sign-up log in; approving twice is harmless and sends one welcome."""
    with audited("signup.approve", caller) as audit:
        admin = superuser_for(ust)
        audit.actor_user_id = admin.user_id
        audit.target_user_id = user_id[:32]
        user = _waiting_user(user_id)
        audit.app = user.signup_app
        if not user.is_confirmed:
            raise AdmitError(Code.USER_NOT_CONFIRMED, "user has not confirmed the sign-up")
        if user.is_approved:
            audit.extra_data["already_approved"] = True
            return
        user.approval_status = User.Approval.APPROVED
        user.approval_status_mod_time = clock.now()
        user.approval_status_mod_by = admin.user_id
        user.save(
            update_fields=["approval_status", "approval_status_mod_time", "approval_status_mod_by"]
        )
        if settings.ADMIT_POLICY.signup.send_welcome_email:
            enqueue("welcome", user.email, welcome_context(user))


def reject(user_id: str, reason: str, ust: str, caller: Caller) -> None:
    """Deletes a pending sign-up (confirmed or not); the person may sign up again afresh."""
    with audited("signup.reject", caller) as audit:
        admin = superuser_for(ust)
        audit.actor_user_id = admin.user_id
        audit.target_user_id = user_id[:32]
        user = _waiting_user(user_id)
        audit.app = user.signup_app
        audit.extra_data = {"reason": reason}
        if user.is_approved:
            raise AdmitError(Code.NOT_ALLOWED, "only pending sign-ups can be rejected")
        if settings.ADMIT_POLICY.signup.send_rejection_email:
            enqueue("rejected", user.email, {"user": user, "reason": reason})
        confirmations.forget(user)
        user.delete()
