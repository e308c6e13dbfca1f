from __future__ import annotations

from django.db import models


class RateCount(models.Model):
    """Events counted in one fixed window for one (hashed) subject: see admit.core.ratelimit."""

    subject = models.CharField(max_length=96)  # bucket and hashed subject
    slot = models.BigIntegerField()  # which window: seconds since the epoch // window length
    count = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["subject", "slot"], name="one_count_per_window")
        ]

    def __str__(self) -> str:
        return f"{self.subject}@{self.slot}: {self.count}"
