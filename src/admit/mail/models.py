from __future__ import annotations

from django.db import models


class OutgoingEmail(models.Model):
    """An e-mail waiting for, or done with, delivery: the transactional outbox.

    It is written in the same transaction as the change that causes it, so a change is
    never committed without its e-mail nor an e-mail sent for a change that rolled back.
    The bodies may carry a live link, so they are blanked once the message is delivered.
    """

    class Status(models.TextChoices):
        QUEUED = "queued"
        SENT = "sent"
        FAILED = "failed"

    template = models.CharField(max_length=64)
    to = models.EmailField(max_length=254)
    subject = models.CharField(max_length=255)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)
    message_id = models.CharField(max_length=255, unique=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()
    next_attempt_at = models.DateTimeField()
    claimed_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=255, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.template} to {self.to} ({self.status})"
