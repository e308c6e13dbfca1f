"""Queueing e-mail (inside the caller's transaction) and delivering it with retries.

Delivery is at-least-once: a row is claimed for a while, sent, then marked sent. A worker
that dies between the SMTP server's "250 OK" and the mark sends it again after the claim
expires; the message keeps the Message-ID it was given at queueing, so mail systems see one
message. An SMTP error leaves the row queued with an exponential backoff; after
``MAX_ATTEMPTS`` (about a day of retrying) it is marked failed and kept for the operator,
its bodies blanked like a sent message's.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from email.utils import make_msgid
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string

from admit.core import clock, unit_of_work
from admit.mail.models import OutgoingEmail

log = logging.getLogger("admit.mail")

MAX_ATTEMPTS = 30
FIRST_RETRY = timedelta(seconds=15)
LONGEST_RETRY = timedelta(hours=1)
CLAIM_FOR = timedelta(minutes=2)


def enqueue(template: str, to: str, context: dict[str, Any]) -> OutgoingEmail | None:
    """Render ``mail/<template>/`` and queue the result. Call it inside the flow's transaction.
    A user without an address (``[signup] email_required = false``) gets no mail: None."""
    if not to:
        return None
    context = {"base_url": settings.ADMIT_BASE_URL, **context}
    now = clock.now()
    return unit_of_work.insert_later(
        OutgoingEmail(
            template=template,
            to=to,
            subject=render_to_string(f"mail/{template}/subject.txt", context).strip(),
            body_text=render_to_string(f"mail/{template}/body.txt", context),
            body_html=render_to_string(f"mail/{template}/body.html", context),
            message_id=make_msgid(domain="admit"),
            created_at=now,
            next_attempt_at=now,
        )
    )


def _claim(email_id: int) -> bool:
    """Take one due row for this worker; a portable compare-and-set on every database."""
    now = clock.now()
    claimed = (
        OutgoingEmail.objects.filter(id=email_id, status=OutgoingEmail.Status.QUEUED)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(claimed_until=now + CLAIM_FOR)
    )
    return claimed == 1


def retry_delay(attempts: int) -> timedelta:
    return min(FIRST_RETRY * (2 ** (attempts - 1)), LONGEST_RETRY)


def _send(email: OutgoingEmail, connection: Any) -> None:
    message = EmailMultiAlternatives(
        subject=email.subject,
        body=email.body_text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[email.to],
        headers={"Message-ID": email.message_id},
        connection=connection,
    )
    if email.body_html:
        message.attach_alternative(email.body_html, "text/html")
    message.send()


def deliver_due(limit: int = 50) -> int:
    """Send what is due now; returns how many were delivered."""
    now = clock.now()
    due = list(
        OutgoingEmail.objects.filter(status=OutgoingEmail.Status.QUEUED, next_attempt_at__lte=now)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .order_by("next_attempt_at", "id")
        .values_list("id", flat=True)[:limit]
    )
    delivered = 0
    connection = get_connection(fail_silently=False)
    for email_id in due:
        if not _claim(email_id):
            continue
        email = OutgoingEmail.objects.get(id=email_id)
        try:
            _send(email, connection)
        except Exception as exc:  # an SMTP outage, a refused recipient, a timeout: retry later
            _record_failure(email, exc)
            continue
        _record_delivery(email)
        delivered += 1
    return delivered


def _record_delivery(email: OutgoingEmail) -> None:
    with transaction.atomic():
        OutgoingEmail.objects.filter(id=email.id).update(
            status=OutgoingEmail.Status.SENT,
            sent_at=clock.now(),
            attempts=email.attempts + 1,
            claimed_until=None,
            body_text="",
            body_html="",
            last_error="",
        )
    log.info("delivered email id=%s template=%s", email.id, email.template)


def _record_failure(email: OutgoingEmail, exc: Exception) -> None:
    attempts = email.attempts + 1
    gave_up = attempts >= MAX_ATTEMPTS
    blanked = {"body_text": "", "body_html": ""} if gave_up else {}
    # Only a row still queued: a worker whose claim ran out must not undo another's delivery.
    OutgoingEmail.objects.filter(id=email.id, status=OutgoingEmail.Status.QUEUED).update(
        **blanked,
        attempts=attempts,
        status=OutgoingEmail.Status.FAILED if gave_up else OutgoingEmail.Status.QUEUED,
        next_attempt_at=clock.now() + retry_delay(attempts),
        claimed_until=None,
        last_error=f"{type(exc).__name__}: {exc}"[:255],
    )
    log.warning(
        "email id=%s template=%s attempt %s failed (%s)%s",
        email.id,
        email.template,
        attempts,
        type(exc).__name__,
        "; giving up" if gave_up else "",
    )
