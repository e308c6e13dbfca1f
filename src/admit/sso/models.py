from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models

from admit.core import names
from admit.sso.hashers import ClientSecretHasher


def normalize_username(username: str) -> str:
    return names.normalize_username(username)


def normalize_email(email: str) -> str:
    return names.normalize_email(email)


class UserManager(BaseUserManager["User"]):
    """The accounts: every user but the rows that hold a username for a sign-up whose address
    was taken (``User.holds_taken_email``), which nothing but log-in and confirmation sees."""

    def get_queryset(self) -> models.QuerySet[User]:
        return super().get_queryset().filter(holds_taken_email=False)

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(username_key=normalize_username(username or ""))


# ``User.locked_by`` of a lock that failed log-ins set, not a super-user (admit.sso.throttle).
AUTOMATIC_LOCK = "admit:failed-logins"


class User(AbstractBaseUser):
    """A person who signed up (or was created by a super-user).

    Uniqueness lives in the database, on the normalised ``username_key`` and ``email_key``
    columns, so two concurrent sign-ups for one name make exactly one account.
    """

    class Approval(models.TextChoices):
        # Zato's names. A rejected sign-up is deleted (the seed), so no row is ever "rejected".
        PENDING = "before_decision"
        APPROVED = "approved"

    user_id = models.CharField(max_length=32, unique=True)
    username = models.CharField(max_length=128)
    username_key = models.CharField("username", max_length=128, unique=True)
    email = models.CharField(max_length=254)
    email_key = models.CharField(max_length=254)  # unique among accounts: see Meta
    # A new address the user asked for, until they confirm it ([user] confirm_email_change).
    pending_email = models.CharField(max_length=254, blank=True)
    # The ``email_key`` of the last address the person proved to be theirs by following a link that
    # was e-mailed to it and to nobody else (``Confirmation.proves_email_key``): their
    # sign-up's, an e-mail change's, or a password reset's. "" until then. Any other change of
    # address (a super-user's, or their own with [user] confirm_email_change off) leaves it as
    # it was, so the new address is unproven: see ``email_verified``.
    email_confirmed_key = models.CharField(max_length=254, blank=True, default="")
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
    # Log-in asks for a code only while this is on; the key is kept when it is switched off.
    is_totp_enabled = models.BooleanField(default=False)
    totp_label = models.CharField(max_length=128, blank=True)
    totp_last_step = models.BigIntegerField(null=True, blank=True)
    approval_status = models.CharField(
        max_length=16, choices=Approval.choices, default=Approval.PENDING
    )
    sign_up_time = models.DateTimeField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # When approval_status last changed, and who changed it (a user_id).
    approval_status_mod_time = models.DateTimeField(null=True, blank=True)
    approval_status_mod_by = models.CharField(max_length=32, blank=True)
    # How the account came to be, as Zato's creation_ctx: {"source": "signup" | "create" | …}.
    creation_ctx = models.JSONField(default=dict, blank=True)
    signup_app = models.CharField(max_length=128, blank=True)
    app_list = models.JSONField(default=list, blank=True)
    remote_ip = models.GenericIPAddressField(null=True, blank=True)
    remote_addr = models.CharField(max_length=255, blank=True)
    # A sign-up for an address that already has an account, while the policy hides that: the
    # row holds the username and answers log-in like any unconfirmed or unapproved sign-up,
    # but it is no account. It is never approved, nobody lists it, and the worker removes it
    # once its confirmation has expired (admit.sso.flows.signup).
    holds_taken_email = models.BooleanField(default=False)
    # Where the person was going when they signed up, a local path only (``rules.local_path``):
    # typically an OpenID Connect authorize URL. Kept on the account, not in the confirmation,
    # because two steps need it days apart: the confirmation page ("Continue to <app>") and,
    # when a super-user must approve first, the welcome e-mail sent on approval.
    return_to = models.CharField(max_length=2000, blank=True)

    objects = UserManager()
    with_held_signups = models.Manager()

    USERNAME_FIELD = "username_key"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["email"]

    class Meta:
        base_manager_name = "with_held_signups"
        indexes = [models.Index(fields=["approval_status", "confirmed_at", "sign_up_time"])]
        constraints = [
            models.UniqueConstraint(
                fields=["email_key"],
                # An account may have no address ([signup] email_required = false).
                condition=models.Q(holds_taken_email=False) & ~models.Q(email_key=""),
                name="sso_user_email_key_one_account",
            )
        ]

    def __str__(self) -> str:
        return self.username

    @property
    def is_confirmed(self) -> bool:
        return self.confirmed_at is not None

    @property
    def email_verified(self) -> bool:
        """Whether the person has proven that their current address is theirs (OpenID
        Connect's ``email_verified``): relying parties match accounts by address, so a
        super-user's word (a change of address, or marking a sign-up confirmed) or a change
        nobody confirmed is not enough; only ``prove_email`` records a proof."""
        return (
            self.is_confirmed
            and self.email_key != ""
            and self.email_confirmed_key == self.email_key
        )

    def prove_email(self, email_key: str) -> list[str]:
        """Record that the person followed a link e-mailed only to ``email_key`` (a
        ``Confirmation.proves_email_key``) if that is their current address; returns the
        fields changed, for the caller to save."""
        if email_key == "" or email_key != self.email_key:
            return []
        self.email_confirmed_key = email_key
        return ["email_confirmed_key"]

    @property
    def is_approved(self) -> bool:
        return self.approval_status == self.Approval.APPROVED

    @property
    def sign_up_status(self) -> str:
        """Zato's ``sign_up_status``: before_confirmation, to_approve (confirmed, waiting for a
        super-user's decision) or final."""
        if not self.is_confirmed:
            return "before_confirmation"
        return "final" if self.is_approved else "to_approve"

    def check_password(self, raw_password: str) -> bool:
        # The fast hasher of client secrets is for client secrets only (admit.sso.hashers).
        if self.password.startswith(ClientSecretHasher.algorithm + "$"):
            return False
        return super().check_password(raw_password)

    @property
    def is_locked_by_operator(self) -> bool:
        """Locked by a super-user, not by strangers' failed guesses (``AUTOMATIC_LOCK``,
        ``admit.sso.throttle``): that lock only turns away log-ins from addresses the account
        has not logged in from, and the person goes on using the sessions they have."""
        return self.is_locked and self.locked_by != AUTOMATIC_LOCK

    # Whether the person may use their account now: in their sessions, at the apps they log
    # in to through admit, in the console. The Django admin lets in active super-users only.
    @property
    def is_active(self) -> bool:  # type: ignore[override]
        return self.is_confirmed and self.is_approved and not self.is_locked_by_operator

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
    # The log-in asked for a TOTP code too (OpenID Connect tells relying parties: acr, amr).
    second_factor = models.BooleanField(default=False)

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


class KnownAddress(models.Model):
    """An address (by digest) that the user has logged in from. Failures from other addresses
    do not pause log-ins from it (``admit.sso.throttle``)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="known_addresses")
    address_digest = models.CharField(max_length=64)
    last_seen = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "address_digest"], name="one_row_per_known_address"
            )
        ]

    def __str__(self) -> str:
        return f"known address of {self.user_id}, last seen {self.last_seen}"


class Attribute(models.Model):
    """A named value kept for a user (``session`` empty) or for one of their sessions, as
    Zato's SSO attributes. The value is JSON text, sealed (``admit.core.totp.seal``) when
    ``is_encrypted``. A session's attributes go with it."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="attributes")
    session = models.ForeignKey(
        Session, on_delete=models.CASCADE, null=True, blank=True, related_name="attributes"
    )
    name = models.CharField(max_length=191)
    value = models.TextField()
    is_encrypted = models.BooleanField(default=False)
    creation_time = models.DateTimeField()
    last_modified = models.DateTimeField()
    expiration_time = models.DateTimeField(null=True, blank=True)  # None: never

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "name"],
                condition=models.Q(session__isnull=True),
                name="one_user_attribute_per_name",
            ),
            models.UniqueConstraint(
                fields=["session", "name"],
                condition=models.Q(session__isnull=False),
                name="one_session_attribute_per_name",
            ),
        ]

    def __str__(self) -> str:
        return f"attribute {self.name} of {self.user_id}"
