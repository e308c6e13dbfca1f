from __future__ import annotations

from django.db import models


class AuditEvent(models.Model):
    """One append-only row per state change or authentication attempt.

    Users are named by their public ``user_id`` rather than a foreign key, so the row
    outlives the account (a rejected sign-up is deleted; its audit trail is not).
    No password, token or key is ever stored here.
    """

    class Outcome(models.TextChoices):
        OK = "ok"
        ERROR = "error"

    created_at = models.DateTimeField(db_index=True)
    event = models.CharField(max_length=64)
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    error_codes = models.CharField(max_length=128, blank=True)
    actor_user_id = models.CharField(max_length=32, blank=True)
    target_user_id = models.CharField(max_length=32, blank=True)
    remote_ip = models.GenericIPAddressField(null=True, blank=True)
    app = models.CharField(max_length=128, blank=True)
    cid = models.CharField(max_length=32)
    remote_server_uuid = models.UUIDField(null=True, blank=True)
    remote_realm_uuid = models.UUIDField(null=True, blank=True)
    extra_data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        # Every row updates every index, on paths that write one row per request; so only the
        # indexes its readers use: exact user ids (no LIKE, so no pattern-ops copies), and a
        # server's or realm's latest events, each among the rows that name one (a remote link
        # request's row names no admit user, a sign-up's no actor).
        indexes = [
            models.Index(fields=["event", "created_at"]),
            models.Index(
                fields=["actor_user_id"],
                condition=~models.Q(actor_user_id=""),
                name="audit_actor_user_id",
            ),
            models.Index(
                fields=["target_user_id"],
                condition=~models.Q(target_user_id=""),
                name="audit_target_user_id",
            ),
            models.Index(
                fields=["remote_server_uuid", "created_at"],
                condition=models.Q(remote_server_uuid__isnull=False),
                name="audit_remote_server_latest",
            ),
            models.Index(
                fields=["remote_realm_uuid", "created_at"],
                condition=models.Q(remote_realm_uuid__isnull=False),
                name="audit_remote_realm_latest",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.event} {self.outcome}"
