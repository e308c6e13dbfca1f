"""Attributes: named JSON values kept for a user or for one of their sessions, as Zato's SSO
attributes (``zato.sso.attr``).

An owner is a user (``session`` None) or a live session. Expired attributes are treated as
absent everywhere: invisible to reads, replaced by a create, ignored by update and delete,
and removed by ``sweep_expired_attributes`` (run by ``admit worker``). A session's attributes
go with it, and none of them is reachable once it has expired.

Values are stored as JSON text (``json.dumps``); an encrypted one as that text sealed with
``admit.core.totp.seal``. Audit rows name the attributes written, never their values.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet

from admit.audit.log import AuditEntry, audited
from admit.core import clock, totp
from admit.core.context import Caller
from admit.core.errors import AdmitError, Code, RefusedByRule
from admit.core.secrets import digest
from admit.sso.flows.sessions import live_session, session_for, user_for
from admit.sso.models import Attribute, Session, User

# The limits (docs/api.md, "Attributes"). A refusal changes nothing.
MAX_NAME_LENGTH = 191  # the column's length; the schema refuses longer names (E008002)
MAX_VALUE_LENGTH = 16 * 1024  # characters of the value as stored: json.dumps, ASCII escapes
MAX_PER_OWNER = 100  # live attributes of one user (own) or of one session (E009003)
MAX_EXPIRATION_SECONDS = 100 * 365 * 24 * 3600  # a century: beyond it, say "never"


@dataclass(frozen=True)
class Owner:
    """Whose attributes: ``user``'s own (``session`` None) or those of one of their live
    sessions. ``actor`` is the caller, for the audit row."""

    actor: User
    user: User
    session: Session | None = None


@dataclass(frozen=True)
class Item:
    """One attribute to write. ``value`` is any JSON value; ``has_value`` False (an update
    that only moves the expiration) keeps the stored one."""

    name: str
    value: Any = None
    has_value: bool = True
    expiration: int | None = None  # seconds from now; None: never (create) or unchanged
    encrypt: bool = False


# Owners


@dataclass(frozen=True)
class Whose:
    """Whose attributes a request names: a user's (``ust``, ``user_id``) or, with
    ``session``, a session's (``ust`` the caller's current session, ``target_ust``)."""

    ust: str
    user_id: str = ""
    target_ust: str = ""
    session: bool = False


def owner_of(whose: Whose) -> Owner:
    if whose.session:
        return session_owner(whose.ust, whose.target_ust)
    return user_owner(whose.ust, whose.user_id)


def user_owner(ust: str, user_id: str = "") -> Owner:
    """The caller's own attributes, or, for a super-user naming ``user_id``, that user's.
    A regular user naming anyone else is refused (E005001) whether or not that user exists."""
    caller = user_for(ust)
    if not user_id or user_id == caller.user_id:
        return Owner(caller, caller)
    if not caller.is_superuser:
        raise AdmitError(Code.NOT_ALLOWED, "only a super-user may use others' attributes")
    user = User.objects.filter(user_id=user_id).first()
    if user is None:
        raise AdmitError(Code.USER_ID_INVALID, "no such user")
    return Owner(caller, user)


def session_owner(current_ust: str, target_ust: str = "") -> Owner:
    """The attributes of ``target_ust`` (default: ``current_ust``): one of the caller's own
    live sessions, or, for a super-user, anyone's. A regular user naming a session that is
    not theirs is refused (E005001) whether or not it exists."""
    current = live_session(current_ust)
    caller = current.user
    if not target_ust or digest(target_ust) == current.ust_digest:
        return Owner(caller, caller, current)
    target = session_for(target_ust)
    if not (target is not None and target.user_id == caller.pk) and not caller.is_superuser:
        raise AdmitError(Code.NOT_ALLOWED, "only a super-user may use others' sessions")
    target = live_session(target_ust)  # E007001 or E007002
    return Owner(caller, target.user, target)


# Reading


def _stored(owner: Owner) -> QuerySet[Attribute]:
    """Every row of the owner, expired ones included."""
    if owner.session is None:
        return Attribute.objects.filter(user=owner.user, session__isnull=True)
    return Attribute.objects.filter(session=owner.session)


def _live(owner: Owner) -> QuerySet[Attribute]:
    return _stored(owner).filter(
        Q(expiration_time__isnull=True) | Q(expiration_time__gt=clock.now())
    )


def get(whose: Whose, names_: list[str]) -> dict[str, Attribute | None]:
    """Each name's live attribute, or None."""
    found = {row.name: row for row in _live(owner_of(whose)).filter(name__in=names_)}
    return {name: found.get(name) for name in names_}


def exists(whose: Whose, names_: list[str]) -> dict[str, bool]:
    live = _live(owner_of(whose)).filter(name__in=names_)
    present = set(live.values_list("name", flat=True))
    return {name: name in present for name in names_}


def names(whose: Whose) -> list[str]:
    return sorted(_live(owner_of(whose)).values_list("name", flat=True))


def value_of(attribute: Attribute, decrypt: bool = True) -> Any:
    """The stored value; an encrypted one as its sealed text unless ``decrypt``."""
    if not attribute.is_encrypted:
        return json.loads(attribute.value)
    if not decrypt:
        return attribute.value
    text = totp.unseal(attribute.value)
    if text is None:
        raise AdmitError(Code.INTERNAL_ERROR, "attribute sealed under another secret key")
    return json.loads(text)


# Writing


def _serialised(item: Item, field: str) -> str:
    text = json.dumps(item.value)
    if len(text) > MAX_VALUE_LENGTH:
        problem = f"must be at most {MAX_VALUE_LENGTH} characters as JSON"
        raise RefusedByRule(
            Code.INPUT_INVALID, f"{field} too long", [{"field": field, "problem": problem}]
        )
    return totp.seal(text) if item.encrypt else text


def _expiry(item: Item) -> Any:
    return clock.now() + timedelta(seconds=item.expiration) if item.expiration else None


@dataclass
class _Write:
    """One write flow's state: the owner (locked), the audit entry, and what it changed."""

    owner: Owner
    audit: AuditEntry
    field_prefix: str

    def field(self, index: int) -> str:
        return f"{self.field_prefix}{index}.value" if self.field_prefix else "value"

    def find(self, name: str) -> Attribute | None:
        return _live(self.owner).filter(name=name).select_for_update().first()

    def create(self, index: int, item: Item) -> None:
        now = clock.now()
        value = _serialised(item, self.field(index))
        # An expired attribute of that name is as good as absent: it makes room.
        _stored(self.owner).filter(name=item.name, expiration_time__lte=now).delete()
        row = Attribute(
            user=self.owner.user,
            session=self.owner.session,
            name=item.name,
            value=value,
            is_encrypted=item.encrypt,
            creation_time=now,
            last_modified=now,
            expiration_time=_expiry(item),
        )
        try:
            with transaction.atomic():
                row.save()
        except IntegrityError as exc:
            raise AdmitError(Code.ATTRIBUTE_EXISTS, "attribute exists") from exc

    def update(self, index: int, item: Item, row: Attribute) -> None:
        if item.has_value:
            row.value = _serialised(item, self.field(index))
            row.is_encrypted = item.encrypt
        if item.expiration:
            row.expiration_time = _expiry(item)
        row.last_modified = clock.now()
        row.save(update_fields=["value", "is_encrypted", "expiration_time", "last_modified"])

    def check_count(self) -> None:
        if _live(self.owner).count() > MAX_PER_OWNER:
            raise AdmitError(
                Code.TOO_MANY_ATTRIBUTES, f"more than {MAX_PER_OWNER} attributes for one owner"
            )


def _lock(owner: Owner) -> None:
    """Serialise writers of one owner's attributes, so that the count limit holds."""
    rows = (
        User.objects.filter(pk=owner.user.pk)
        if owner.session is None
        else Session.objects.filter(pk=owner.session.pk)
    )
    list(rows.select_for_update().values_list("pk", flat=True))


def _start(audit: AuditEntry, whose: Whose, names_: list[str], many: bool) -> _Write:
    audit.extra_data["names"] = names_
    audit.extra_data["owner"] = "session" if whose.session else "user"
    owner = owner_of(whose)
    audit.actor_user_id = owner.actor.user_id
    audit.target_user_id = owner.user.user_id
    _lock(owner)
    return _Write(owner, audit, "data." if many else "")


def create(
    whose: Whose, items: list[Item], caller: Caller, app: str = "", many: bool = False
) -> None:
    """Create each attribute; E009001 when a live one of that name exists. All or nothing."""
    with audited("attribute.create", caller, app=app) as audit:
        write = _start(audit, whose, [item.name for item in items], many)
        for index, item in enumerate(items):
            write.create(index, item)
        write.check_count()


def update(
    whose: Whose, items: list[Item], caller: Caller, app: str = "", many: bool = False
) -> None:
    """Change each attribute; E009002 when one is absent (or expired). All or nothing."""
    with audited("attribute.update", caller, app=app) as audit:
        write = _start(audit, whose, [item.name for item in items], many)
        for index, item in enumerate(items):
            row = write.find(item.name)
            if row is None:
                raise AdmitError(Code.NO_SUCH_ATTRIBUTE, "no such attribute")
            write.update(index, item, row)


def set_(
    whose: Whose, items: list[Item], caller: Caller, app: str = "", many: bool = False
) -> None:
    """Create each attribute or change it if it exists. All or nothing."""
    with audited("attribute.set", caller, app=app) as audit:
        write = _start(audit, whose, [item.name for item in items], many)
        for index, item in enumerate(items):
            row = write.find(item.name)
            if row is None:
                write.create(index, item)
            else:
                write.update(index, item, row)
        write.check_count()


def delete(whose: Whose, names_: list[str], caller: Caller, app: str = "") -> int:
    """Delete the named attributes that exist; E009002 (nothing deleted) when none of them
    does. Returns how many were deleted."""
    with audited("attribute.delete", caller, app=app) as audit:
        write = _start(audit, whose, names_, many=False)
        live = _live(write.owner).filter(name__in=names_).count()
        if not live:
            raise AdmitError(Code.NO_SUCH_ATTRIBUTE, "no such attribute")
        _stored(write.owner).filter(name__in=names_).delete()
        audit.extra_data["deleted"] = live
        return live


def sweep_expired_attributes() -> int:
    """Delete attributes that have expired; run periodically by ``admit worker``."""
    expired = Attribute.objects.filter(expiration_time__lte=clock.now())
    return expired.delete()[1].get("sso.Attribute", 0)
