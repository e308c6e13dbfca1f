from __future__ import annotations

import unicodedata

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models


def normalize_username(username: str) -> str:
    return unicodedata.normalize("NFKC", username).casefold()


def normalize_email(email: str) -> str:
    return unicodedata.normalize("NFKC", email).casefold()


class UserManager(BaseUserManager["User"]):
    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(username_key=normalize_username(username or ""))


class User(AbstractBaseUser):
    """A person who signed up (or was created by a super-user).

    Uniqueness lives in the database, on the normalised ``username_key`` and ``email_key``
    columns, so two concurrent sign-ups for one name make exactly one account.
    """

    class Approval(models.TextChoices):
        PENDING = "pending"
        APPROVED = "approved"

    user_id = models.CharField(max_length=32, unique=True)
    username = models.CharField(max_length=128)
    username_key = models.CharField("username", max_length=128, unique=True)
    email = models.CharField(max_length=254)
    email_key = models.CharField(max_length=254, unique=True)
    display_name = models.CharField(max_length=256, blank=True)
    first_name = models.CharField(max_length=128, blank=True)
    middle_name = models.CharField(max_length=128, blank=True)
    last_name = models.CharField(max_length=128, blank=True)
    is_superuser = models.BooleanField(default=False)
    is_locked = models.BooleanField(default=False)
    locked_at = models.DateTimeField(null=True, blank=True)
    locked_by = models.CharField(max_length=32, blank=True)
    failed_logins = models.PositiveIntegerField(default=0)  # consecutive; reset on success
    password_last_set = models.DateTimeField(null=True, blank=True)
    password_expiry = models.DateTimeField(null=True, blank=True)
    password_must_change = models.BooleanField(default=False)
    totp_secret = models.TextField(blank=True)  # encrypted: see admit.core.totp
    totp_label = models.CharField(max_length=128, blank=True)
    totp_last_step = models.BigIntegerField(null=True, blank=True)
    approval_status = models.CharField(
        max_length=16, choices=Approval.choices, default=Approval.PENDING
    )
    sign_up_time = models.DateTimeField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.CharField(max_length=32, blank=True)
    signup_app = models.CharField(max_length=128, blank=True)
    app_list = models.JSONField(default=list, blank=True)
    remote_ip = models.GenericIPAddressField(null=True, blank=True)
    remote_addr = models.CharField(max_length=255, blank=True)

    objects = UserManager()

    USERNAME_FIELD = "username_key"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["email"]

    class Meta:
        indexes = [models.Index(fields=["approval_status", "confirmed_at", "sign_up_time"])]

    def __str__(self) -> str:
        return self.username

    @property
    def has_totp(self) -> bool:
        return bool(self.totp_secret)

    @property
    def is_confirmed(self) -> bool:
        return self.confirmed_at is not None

    @property
    def is_approved(self) -> bool:
        return self.approval_status == self.Approval.APPROVED

    # The Django admin lets in active super-users only.
    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self.is_confirmed and self.is_approved and not self.is_locked

    @property
    def is_staff(self) -> bool:
        return self.is_superuser and self.is_active

    def has_perm(self, perm: str, obj: object = None) -> bool:
        return self.is_staff

    def has_module_perms(self, app_label: str) -> bool:
        return self.is_staff


class Session(models.Model):
    """A log-in session; the caller holds the ``ust``, admit keeps only its digest."""

    ust_digest = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="sessions")
    app = models.CharField(max_length=128)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    remote_ip = models.GenericIPAddressField(null=True, blank=True)
    remote_addr = models.CharField(max_length=255, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)

    def __str__(self) -> str:
        return f"session of {self.user_id} for {self.app}"


class SessionEvent(models.Model):
    """The history of one session: its log-in and every renewal."""

    class Kind(models.TextChoices):
        LOGIN = "login"
        RENEW = "renew"

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    at = models.DateTimeField()
    remote_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} at {self.at}"


class LoginPause(models.Model):
    """The consecutive failed log-ins of one username, known or not, and the pause they
    earned (``admit.sso.lockout``). ``subject`` is a hash of the normalised username."""

    subject = models.CharField(max_length=80)
    failures = models.PositiveIntegerField()
    paused_until = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["subject"], name="one_pause_per_username")]

    def __str__(self) -> str:
        return f"{self.failures} failures, paused until {self.paused_until}"
