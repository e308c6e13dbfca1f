"""Sessions (``ust``): opening, resolving, verifying, renewing, listing and ending them."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Prefetch

from admit.audit.log import audited
from admit.core import clock, unit_of_work
from admit.core.context import Caller
from admit.core.errors import AdmitError, Code, RefusedByRule
from admit.core.secrets import digest, is_secret_shaped, new_secret
from admit.sso import queries
from admit.sso.models import Session, SessionEvent, User

UST_PREFIX = "zust"


def lifetime(app: str) -> timedelta:
    policy = settings.ADMIT_POLICY.session
    return timedelta(seconds=policy.app_expiry.get(app, policy.expiry))


def open_session(
    user: User, app: str, caller: Caller, remote_addr: str = "", second_factor: bool = False
) -> tuple[str, Session]:
    now = clock.now()
    ust = new_secret(UST_PREFIX)
    session = unit_of_work.insert_later(
        Session(
            ust_digest=digest(ust),
            user=user,
            app=app,
            created_at=now,
            expires_at=now + lifetime(app),
            remote_ip=caller.remote_ip,
            remote_addr=remote_addr[:255],
            user_agent=caller.user_agent[:512],
            second_factor=second_factor,
        )
    )
    _event(session, SessionEvent.Kind.LOGIN, caller)
    return ust, session


def _event(session: Session, kind: str, caller: Caller) -> None:
    """One event in the session's history; the session's row may be in the same batch."""
    unit_of_work.insert_later(
        SessionEvent(
            kind=kind,
            at=clock.now(),
            remote_ip=caller.remote_ip,
            user_agent=caller.user_agent[:512],
        ),
        session_id=session,
    )


def session_for(ust: str) -> Session | None:
    if not is_secret_shaped(ust, UST_PREFIX):
        return None
    return Session.objects.select_related("user").filter(ust_digest=digest(ust)).first()


def live_session(ust: str) -> Session:
    session = session_for(ust)
    if session is None:
        raise AdmitError(Code.NO_SUCH_SESSION, "no such session")
    if session.expires_at <= clock.now():
        raise AdmitError(Code.SESSION_EXPIRED, "session expired")
    return session


def user_for(ust: str) -> User:
    return live_session(ust).user


def superuser_for(ust: str) -> User:
    user = user_for(ust)
    if not (user.is_superuser and user.is_active):
        raise AdmitError(Code.SUPERUSER_REQUIRED, "a super-user is required")
    return user


def _target(caller_session: Session, target_ust: str) -> Session:
    """The session asked about: one of one's own, or, for a super-user, anyone's.

    Anybody else is refused alike whether or not the target exists."""
    if target_ust == "" or digest(target_ust) == caller_session.ust_digest:
        return caller_session
    target = session_for(target_ust)
    own = target is not None and target.user_id == caller_session.user_id
    if not (own or caller_session.user.is_superuser):
        raise AdmitError(Code.SUPERUSER_REQUIRED, "only a super-user may look at others' sessions")
    if target is None:
        raise AdmitError(Code.NO_SUCH_SESSION, "no such target session")
    return target


def verify(current_ust: str, target_ust: str) -> bool:
    """Is ``target_ust`` a live session? Zato's check: only a super-user's ``current_ust`` may
    ask (E005001 otherwise, also about one's own session), and the answer is false for a
    target that is unknown, expired or not a token at all. The relying application's hot
    path: one indexed query, nothing written."""
    if not target_ust:
        raise AdmitError(Code.NO_SUCH_SESSION, "no target_ust")
    now = clock.now()
    if not is_secret_shaped(current_ust, UST_PREFIX):
        raise AdmitError(Code.NO_SUCH_SESSION, "no such session")
    target_shaped = is_secret_shaped(target_ust, UST_PREFIX)
    wanted = {digest(current_ust), digest(target_ust) if target_shaped else ""}
    rows = queries.live_sessions(sorted(wanted - {""}))
    caller = rows.get(digest(current_ust))
    if caller is None:
        raise AdmitError(Code.NO_SUCH_SESSION, "no such session")
    if caller.expires_at <= now:
        raise AdmitError(Code.SESSION_EXPIRED, "session expired")
    if not caller.is_active_superuser:
        raise AdmitError(Code.NOT_ALLOWED, "only a super-user may verify sessions")
    target = rows.get(digest(target_ust)) if target_shaped else None
    return target is not None and target.expires_at > now


def _active_superuser_session(current_ust: str) -> Session:
    """The caller's live session, if it is an active super-user's; E005001 otherwise."""
    session = live_session(current_ust)
    if not (session.user.is_superuser and session.user.is_active):
        raise AdmitError(Code.NOT_ALLOWED, "a super-user's current_ust is required")
    return session


def describe(current_ust: str, target_ust: str) -> Session:
    """The session ``target_ust``, for a super-user's ``current_ust`` (Zato's ``get``)."""
    if not target_ust:
        raise AdmitError(Code.NO_SUCH_SESSION, "no target_ust")
    _active_superuser_session(current_ust)
    return live_session(target_ust)


def renew(ust: str, current_app: str, caller: Caller) -> datetime:
    with audited("session.renew", caller, app=current_app) as audit:
        session = live_session(ust)
        audit.target_user_id = session.user.user_id
        session.expires_at = clock.now() + lifetime(session.app)
        session.save(update_fields=["expires_at"])
        _event(session, SessionEvent.Kind.RENEW, caller)
        return session.expires_at


def list_sessions(
    ust: str = "", user_id: str = "", *, current_ust: str = "", target_ust: str = ""
) -> list[Session]:
    """Live sessions, oldest first, with their user and events. Zato's two selectors: ``ust``
    alone, the caller's own; or ``current_ust`` with ``target_ust``, the sessions of the user
    owning ``target_ust`` (a super-user's, or the caller's own; E005001 otherwise, whether or
    not the target exists). admit's own: ``ust`` with ``user_id``, a super-user's view of that
    user's sessions. Giving both selectors, or neither, is E008002."""
    if ust and (current_ust or target_ust):
        raise RefusedByRule(Code.INPUT_INVALID, "ust goes without current_ust and target_ust")
    if not ust and not (current_ust and target_ust):
        raise RefusedByRule(Code.INPUT_INVALID, "ust, or current_ust with target_ust, is required")
    if user_id and not ust:
        raise RefusedByRule(Code.INPUT_INVALID, "user_id goes with ust")
    caller = live_session(ust or current_ust)
    owner = caller.user
    if user_id and user_id != owner.user_id:
        if not (owner.is_superuser and owner.is_active):
            raise AdmitError(Code.NOT_ALLOWED, "only a super-user may list others' sessions")
        found = User.objects.filter(user_id=user_id).first()
        if found is None:
            raise AdmitError(Code.NOT_ALLOWED, "no such user")
        owner = found
    elif target_ust and digest(target_ust) != caller.ust_digest:
        target = session_for(target_ust)
        own = target is not None and target.user_id == caller.user_id
        if not (own or (caller.user.is_superuser and caller.user.is_active)):
            raise AdmitError(Code.NOT_ALLOWED, "only a super-user may list others' sessions")
        if target is None:
            raise AdmitError(Code.NO_SUCH_SESSION, "no such target session")
        if target.expires_at <= clock.now():
            raise AdmitError(Code.SESSION_EXPIRED, "target session expired")
        owner = target.user
    return list(
        Session.objects.filter(user=owner, expires_at__gt=clock.now())
        .select_related("user")
        .order_by("created_at", "id")
        .prefetch_related(Prefetch("events", queryset=SessionEvent.objects.order_by("at", "id")))
    )


def end_session(current_ust: str, target_ust: str, caller: Caller) -> None:
    with audited("session.end", caller) as audit:
        current = live_session(current_ust)
        audit.actor_user_id = current.user.user_id
        target = _target(current, target_ust)
        audit.target_user_id = target.user.user_id
        target.delete()


def end_other_sessions(ust: str, caller: Caller) -> int:
    with audited("session.end_others", caller) as audit:
        current = live_session(ust)
        audit.target_user_id = current.user.user_id
        ended = end_sessions_of(current.user, keep=current)
        audit.extra_data["ended"] = ended
        return ended


def end_sessions_of(user: User, keep: Session | None = None) -> int:
    sessions = Session.objects.filter(user=user)
    if keep is not None:
        sessions = sessions.exclude(pk=keep.pk)
    return sessions.delete()[1].get("sso.Session", 0)


def end_session_of(user: User, session_id: int) -> bool:
    """End session ``session_id`` if it is ``user``'s; False when ``user`` has no such one.
    The caller's flow decides who may end it and how a miss is refused."""
    return Session.objects.filter(user=user, pk=session_id).delete()[1].get("sso.Session", 0) > 0


def sweep_expired() -> int:
    """Delete sessions that have expired; run periodically by ``admit worker``."""
    return Session.objects.filter(expires_at__lte=clock.now()).delete()[1].get("sso.Session", 0)
