from __future__ import annotations

from django.db import models


class Confirmation(models.Model):
    """A one-time key that confirms something about one object (any model, by its key)."""

    key_digest = models.CharField(max_length=64, unique=True)
    kind = models.CharField(max_length=64)
    object_type = models.CharField(max_length=100)  # "app_label.model"
    object_id = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # The normalised e-mail address that following this key proves to be the person's: the
    # address it was e-mailed to, when it went there and nowhere else. Empty for a key that was
    # not e-mailed, or was also handed out another way (a sign-up's answer, which whoever made
    # the sign-up reads without the mailbox).
    proves_email_key = models.CharField(max_length=254, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["object_type", "object_id", "kind"])]

    def __str__(self) -> str:
        return f"{self.kind} for {self.object_type}:{self.object_id}"
