"""Generic, typed, expiring, one-time confirmation keys for any object.

A kind is registered once with its validity, the sentence a person sees before confirming,
and the function that acts on confirmation. ``create`` hands out a key (128 bits, stored as
its SHA-256 digest); ``confirm`` spends it exactly once, even under concurrent clicks, and
runs the kind's action in the same transaction. Three outcomes are told apart: the key is
malformed, the key is expired or already used (or revoked), the key was never issued.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import models

from admit.audit.log import AuditEntry, audited
from admit.confirmations.models import Confirmation
from admit.core import clock, unit_of_work
from admit.core.context import Caller
from admit.core.errors import AdmitError, Code
from admit.core.secrets import digest, is_secret_shaped, new_secret

KEY_PREFIX = "zcnt"


class ConfirmationError(AdmitError):
    pass


class MalformedKey(ConfirmationError):
    def __init__(self) -> None:
        super().__init__(Code.NO_SUCH_CONFIRM_TOKEN, "not a confirmation key")


class KeyNotFound(ConfirmationError):
    def __init__(self) -> None:
        super().__init__(Code.NO_SUCH_CONFIRM_TOKEN, "no such confirmation key")


class KeyExpiredOrUsed(ConfirmationError):
    def __init__(self, confirmation: Confirmation):
        self.confirmation = confirmation
        if self.was_used:
            super().__init__(Code.ALREADY_CONFIRMED, "confirmation key already used")
        else:
            super().__init__(Code.NO_SUCH_CONFIRM_TOKEN, "confirmation key expired or revoked")

    @property
    def was_used(self) -> bool:
        return self.confirmation.used_at is not None


@dataclass(frozen=True)
class ConfirmationKind:
    """One kind of confirmation: how long its keys live and, for kinds a person confirms on
    the confirmation page, what they are shown before confirming, the audit event, and the
    action confirming runs (inside the transaction; it returns the sentence shown afterwards).

    Kinds without ``on_confirm`` are spent by their own flows with ``lookup`` and ``spend``
    (a password reset needs a new password with its key); the page treats them as unknown.
    """

    name: str
    validity: Callable[[], timedelta]
    audit_event: str = ""
    describe: Callable[[Confirmation], str] | None = None
    on_confirm: Callable[[Confirmation, AuditEntry], str | Outcome] | None = None


@dataclass(frozen=True)
class Outcome:
    """What a kind's action shows after confirming: a sentence and, if it has one, a link
    onward (a local path, e.g. back to the app the person signed up for)."""

    message: str
    link: str = ""
    link_text: str = ""


@dataclass(frozen=True)
class Confirmed:
    kind: str
    message: str
    link: str = ""
    link_text: str = ""


_KINDS: dict[str, ConfirmationKind] = {}


def register(kind: ConfirmationKind) -> None:
    _KINDS[kind.name] = kind


def kind_of(confirmation: Confirmation) -> ConfirmationKind:
    return _KINDS[confirmation.kind]


def _object_type(obj: models.Model) -> str:
    return obj._meta.label_lower


def create(obj: models.Model, kind: str, proves_email_key: str = "") -> str:
    """A new key confirming ``kind`` for ``obj``; the caller e-mails or returns it. ``obj``'s
    row may itself be one the flow holds until its end. ``proves_email_key``: the normalised
    address the caller e-mails the key to, and to nobody else; following the key then proves
    that the address is the person's (``Confirmation.proves_email_key``)."""
    now = clock.now()
    key = new_secret(KEY_PREFIX)
    unit_of_work.insert_later(
        Confirmation(
            key_digest=digest(key),
            kind=kind,
            object_type=_object_type(obj),
            created_at=now,
            expires_at=now + _KINDS[kind].validity(),
            proves_email_key=proves_email_key,
        ),
        object_id=obj,
    )
    return key


def link(key: str) -> str:
    return f"{settings.ADMIT_BASE_URL}/confirm/{key}/"


def lookup(key: str, kinds: tuple[str, ...] | None = None) -> Confirmation:
    """The live confirmation behind ``key``, without spending it."""
    if not is_secret_shaped(key, KEY_PREFIX):
        raise MalformedKey()
    confirmation = Confirmation.objects.filter(key_digest=digest(key)).first()
    if confirmation is None or (kinds is not None and confirmation.kind not in kinds):
        raise KeyNotFound()
    if confirmation.used_at or confirmation.revoked_at or confirmation.expires_at <= clock.now():
        raise KeyExpiredOrUsed(confirmation)
    return confirmation


def page_kinds() -> tuple[str, ...]:
    return tuple(name for name, kind in _KINDS.items() if kind.on_confirm is not None)


def describe(key: str) -> str:
    """What ``key`` would confirm, for the page shown before the button is pressed."""
    confirmation = lookup(key, page_kinds())
    describe_kind = kind_of(confirmation).describe
    return describe_kind(confirmation) if describe_kind else confirmation.kind


def spend(confirmation: Confirmation) -> None:
    """Mark ``confirmation`` used, with a conditional UPDATE: of two concurrent calls exactly
    one succeeds; the other gets ``KeyExpiredOrUsed``."""
    now = clock.now()
    spent = Confirmation.objects.filter(
        id=confirmation.id, used_at__isnull=True, revoked_at__isnull=True
    ).update(used_at=now)
    if spent != 1:
        confirmation.refresh_from_db()
        raise KeyExpiredOrUsed(confirmation)
    confirmation.used_at = now


def confirm(key: str, caller: Caller, kinds: tuple[str, ...] | None = None) -> Confirmed:
    """Spend ``key`` and run its kind's action, audited under the kind's event; only kinds
    with an action can be confirmed this way."""
    allowed = tuple(kind for kind in (kinds or page_kinds()) if kind in page_kinds())
    known = (
        Confirmation.objects.filter(key_digest=digest(key)).values_list("kind", flat=True).first()
    )
    event = _KINDS[known].audit_event if known in allowed else "confirmation.confirm"
    with audited(event, caller) as audit:
        confirmation = lookup(key, allowed)
        spend(confirmation)
        kind = kind_of(confirmation)
        assert kind.on_confirm is not None  # page_kinds() holds only kinds with an action
        outcome = kind.on_confirm(confirmation, audit)
        if isinstance(outcome, str):
            outcome = Outcome(outcome)
        return Confirmed(kind.name, outcome.message, outcome.link, outcome.link_text)


def revoke(obj: models.Model, kind: str | None = None) -> int:
    """Revoke every live key for ``obj`` (of one kind, or all); returns how many."""
    live = Confirmation.objects.filter(
        object_type=_object_type(obj),
        object_id=str(obj.pk),
        used_at__isnull=True,
        revoked_at__isnull=True,
    )
    if kind is not None:
        live = live.filter(kind=kind)
    return live.update(revoked_at=clock.now())


KEEP_SPENT_FOR = timedelta(days=30)


def sweep_expired() -> int:
    """Delete keys past their expiry (or spent) for more than a month; run by ``admit worker``.

    A month keeps "already used" and "expired" answers distinct for a while before a key
    becomes merely unknown."""
    cutoff = clock.now() - KEEP_SPENT_FOR
    old = Confirmation.objects.filter(
        models.Q(expires_at__lt=cutoff) | models.Q(used_at__lt=cutoff)
    )
    return old.delete()[1].get("confirmations.Confirmation", 0)


def forget(obj: models.Model) -> None:
    """Delete every key for ``obj``, used or not: for objects that are themselves deleted."""
    Confirmation.objects.filter(object_type=_object_type(obj), object_id=str(obj.pk)).delete()
