"""What the console needs that the SSO flows lack: read-only queries for its pages, and one
audited change (ending another user's sessions, which ``end_session`` cannot do without the
session's token). Each takes the super-user's ``ust`` and checks it first, like the SSO flows.

A candidate to move into ``admit.sso.flows``: ending another user's sessions by id, once the
API wants it too."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, cast
from uuid import UUID

from django.db.models import CharField, Min, Q, QuerySet

from admit.audit.log import audited
from admit.audit.models import AuditEvent
from admit.core import clock
from admit.core.context import Caller
from admit.core.errors import AdmitError, Code, NotFound
from admit.remote.models import RemoteServer
from admit.sso.flows.approval import PendingStatus, pending
from admit.sso.flows.sessions import end_session_of, end_sessions_of, superuser_for
from admit.sso.models import Session, User
from admit.sso.oidc import clients, consents
from admit.sso.oidc.models import Client

# ---- the queue ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Queue:
    users: list[User]
    total: int
    to_confirm: int
    to_approve: int
    page: int
    num_pages: int


def queue(
    ust: str, status: PendingStatus | None, app: str, page: int, page_size: int = 50
) -> Queue:
    """Pending sign-ups, oldest first, optionally only those of one status and one app."""
    superuser_for(ust)
    found = pending(status, app)
    total = found.count()
    num_pages = max(1, math.ceil(total / page_size))
    page = min(max(page, 1), num_pages)
    start = (page - 1) * page_size
    return Queue(
        users=list(found[start : start + page_size]),
        total=total,
        to_confirm=pending("to-confirm").count(),
        to_approve=pending("to-approve").count(),
        page=page,
        num_pages=num_pages,
    )


# ---- the dashboard --------------------------------------------------------------------------


@dataclass(frozen=True)
class Counts:
    to_confirm: int
    to_approve: int
    users: int
    live_sessions: int


def counts(ust: str) -> Counts:
    superuser_for(ust)
    return Counts(
        to_confirm=pending("to-confirm").count(),
        to_approve=pending("to-approve").count(),
        users=User.objects.count(),
        live_sessions=Session.objects.filter(expires_at__gt=clock.now()).count(),
    )


FUNNEL_STEPS = (
    ("signed-up", "Signed up", "signup"),
    ("confirmed", "Confirmed", "signup.confirm"),
    ("approved", "Approved", "signup.approve"),
    ("first-login", "First log-in", "login"),
)


@dataclass(frozen=True)
class Funnel:
    """``buckets[i]`` starts on ``starts[i]`` (UTC); ``series[step][i]`` counts people."""

    starts: list[date]
    by: Literal["day", "week"]
    series: dict[str, list[int]] = field(default_factory=dict)

    def totals(self) -> dict[str, int]:
        return {step: sum(values) for step, values in self.series.items()}

    def rows(self) -> Iterator[tuple[date, list[int]]]:
        for index, start in enumerate(self.starts):
            yield start, [self.series[step][index] for step, _, _ in FUNNEL_STEPS]


def funnel(ust: str, days: int = 30, by: Literal["day", "week"] = "day") -> Funnel:
    """The sign-up funnel of the last ``days`` days (today included), from the audit log.

    Each person counts once per step, on the day they first reached it: signed up (a
    successful "signup" that made an account), confirmed, approved, and their first
    successful log-in ever (a log-in before the window is not a first log-in in it)."""
    superuser_for(ust)
    today = clock.now().date()
    first_day = today - timedelta(days=days - 1)
    since = datetime.combine(first_day, time.min, tzinfo=UTC)
    step_days = 7 if by == "week" else 1
    starts = [first_day + timedelta(days=n) for n in range(0, days, step_days)]

    def bucket(moment: datetime) -> int:
        return (moment.date() - first_day).days // step_days

    reached: dict[str, dict[str, datetime]] = defaultdict(dict)
    ok = AuditEvent.objects.filter(outcome=AuditEvent.Outcome.OK).exclude(target_user_id="")
    for event, user_id, moment in (
        ok.filter(event__in=["signup", "signup.confirm", "signup.approve"], created_at__gte=since)
        .order_by("created_at", "id")
        .values_list("event", "target_user_id", "created_at")
    ):
        reached[event].setdefault(user_id, moment)
    for user_id, first in (
        ok.filter(event="login")
        .values("target_user_id")
        .annotate(first=Min("created_at"))
        .filter(first__gte=since)
        .values_list("target_user_id", "first")
    ):
        reached["login"][user_id] = first
    series = {}
    for step, _, event in FUNNEL_STEPS:
        values = [0] * len(starts)
        for moment in reached[event].values():
            index = bucket(moment)
            if 0 <= index < len(values):
                values[index] += 1
        series[step] = values
    return Funnel(starts=starts, by=by, series=series)


# ---- users' sessions ------------------------------------------------------------------------


def end_user_sessions(ust: str, user_id: str, caller: Caller, session_id: int | None = None) -> int:
    """A super-user ends one session of a user (by its id) or all of them; audited as
    "session.end" or "session.end_all". Returns how many ended."""
    event = "session.end" if session_id is not None else "session.end_all"
    with audited(event, caller) as audit:
        admin = superuser_for(ust)
        audit.actor_user_id = admin.user_id
        audit.target_user_id = user_id[:32]
        user = User.objects.filter(user_id=user_id).first()
        if user is None:
            raise AdmitError(Code.NOT_ALLOWED, "no such user")
        if session_id is None:
            ended = end_sessions_of(user)
        elif end_session_of(user, session_id):
            ended = 1
        else:
            raise AdmitError(Code.NO_SUCH_SESSION, "no such session of this user")
        audit.extra_data["ended"] = ended
        return ended


# ---- OpenID Connect clients ----------------------------------------------------------------
# The registry is admit.sso.oidc.clients (which the CLI calls too); here each call first checks
# the super-user, who is then named as the actor of its audit row.


def oidc_clients(ust: str) -> list[Client]:
    superuser_for(ust)
    return clients.list_clients()


def oidc_client(ust: str, client_id: str) -> Client:
    """The client, or NotFound -- also for an id no client can have (too long, or with a
    control character, which PostgreSQL cannot even compare), without asking the database."""
    superuser_for(ust)
    longest = cast(CharField, Client._meta.get_field("client_id")).max_length or 0
    if not (0 < len(client_id) <= longest and client_id.isprintable()):
        raise NotFound(Code.INPUT_INVALID, "no client with that id")
    return clients.get_client(client_id)


def oidc_client_shown(ust: str, client_id: str) -> tuple[Client, dict[str, object]]:
    """The client and what ``admit apps show`` prints of it (``clients.describe``, so the
    console's page and the command show the same): never its secret, of which admit keeps
    only a digest."""
    client = oidc_client(ust, client_id)
    return client, clients.describe(client)


def add_oidc_client(
    ust: str,
    app: str,
    redirect_uris: list[str],
    caller: Caller,
    *,
    post_logout_redirect_uris: tuple[str, ...] = (),
    public: bool = False,
    skip_consent: bool = False,
    algorithm: str = Client.RS256_ALGORITHM,
    refresh_id_token: bool = False,
) -> clients.NewClient:
    admin = superuser_for(ust)
    return clients.add_client(
        app,
        redirect_uris,
        caller,
        post_logout_redirect_uris=post_logout_redirect_uris,
        public=public,
        skip_consent=skip_consent,
        algorithm=algorithm,
        refresh_id_token=refresh_id_token,
        actor=admin.user_id,
    )


def rotate_oidc_secret(ust: str, client_id: str, caller: Caller) -> clients.NewClient:
    admin = superuser_for(ust)
    return clients.rotate_secret(client_id, caller, actor=admin.user_id)


def remove_oidc_client(ust: str, client_id: str, caller: Caller) -> None:
    admin = superuser_for(ust)
    clients.remove_client(client_id, caller, actor=admin.user_id)


def apps_with_access(ust: str, user: User) -> list[consents.AppWithAccess]:
    """The apps a user has allowed (their consents), for the console's user page."""
    superuser_for(ust)
    return consents.apps_with_access(user)


# ---- remote servers -------------------------------------------------------------------------


def remote_servers(ust: str) -> list[RemoteServer]:
    superuser_for(ust)
    return list(RemoteServer.objects.order_by("hostname", "id").prefetch_related("realms", "users"))


def remote_server(ust: str, uuid: UUID) -> tuple[RemoteServer, list[AuditEvent]]:
    superuser_for(ust)
    server = (
        RemoteServer.objects.filter(uuid=uuid)
        .prefetch_related("realms__users", "users", "preregistrations")
        .first()
    )
    if server is None:
        raise AdmitError(Code.NOT_ALLOWED, "no such remote server")
    events = list(AuditEvent.objects.filter(remote_server_uuid=uuid)[:50])
    return server, events


# ---- the audit log --------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilter:
    user_id: str = ""
    app: str = ""
    event: str = ""
    outcome: str = ""
    since: date | None = None
    until: date | None = None  # included


def audit_events(ust: str, where: AuditFilter) -> QuerySet[AuditEvent]:
    """Newest first. ``user_id`` matches the actor or the target."""
    superuser_for(ust)
    found = AuditEvent.objects.all()
    if where.user_id:
        found = found.filter(Q(actor_user_id=where.user_id) | Q(target_user_id=where.user_id))
    if where.app:
        found = found.filter(app=where.app)
    if where.event:
        found = found.filter(event=where.event)
    if where.outcome:
        found = found.filter(outcome=where.outcome)
    if where.since:
        found = found.filter(created_at__gte=datetime.combine(where.since, time.min, tzinfo=UTC))
    if where.until:
        after = datetime.combine(where.until + timedelta(days=1), time.min, tzinfo=UTC)
        found = found.filter(created_at__lt=after)
    return found.order_by("-created_at", "-id")


def audit_event_names(ust: str) -> list[str]:
    superuser_for(ust)
    return sorted(set(AuditEvent.objects.values_list("event", flat=True).distinct()))


def usernames(ust: str, user_ids: set[str]) -> dict[str, str]:
    """The usernames of the users among ``user_ids`` that still exist (a rejected or deleted
    user's id stays in the audit log with no name)."""
    superuser_for(ust)
    wanted = {user_id for user_id in user_ids if user_id}
    if not wanted:
        return {}
    found = User.with_held_signups.filter(user_id__in=wanted).values_list("user_id", "username")
    return dict(found)
