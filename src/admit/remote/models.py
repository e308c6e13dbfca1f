"""The registry of remote servers, their realms, the people who log in for them."""

from __future__ import annotations

from django.db import models

# A host name or address with an optional port: never a scheme, a path, a user or a query.
HOST_PATTERN = r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?$"


class RemoteServer(models.Model):
    """A self-hosted deployment that may ask admit for log-in links for its admins."""

    uuid = models.UUIDField(unique=True)
    key_digest = models.CharField(max_length=64)  # SHA-256 of the key, shown once
    hostname = models.CharField(max_length=255)
    contact_email = models.EmailField(max_length=254)
    registered_at = models.DateTimeField()
    last_seen_at = models.DateTimeField(null=True, blank=True)
    last_request_at = models.DateTimeField(null=True, blank=True)
    last_version = models.CharField(max_length=128, blank=True)
    deactivated = models.BooleanField(default=False)
    deactivated_at = models.DateTimeField(null=True, blank=True)
    # What a Zulip server's analytics upload reported. admit keeps no usage statistics: only
    # the highest row ids it was sent, so that the server does not send the same rows again
    # (Zulip asks for them first: GET .../server/analytics/status).
    last_api_feature_level = models.PositiveIntegerField(null=True, blank=True)
    last_analytics_at = models.DateTimeField(null=True, blank=True)
    last_realm_count_id = models.BigIntegerField(default=0)
    last_installation_count_id = models.BigIntegerField(default=0)
    last_realmauditlog_id = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.hostname} ({self.uuid})"


class RemoteRealm(models.Model):
    """An organisation hosted on a remote server; its uuid is unique across all servers."""

    server = models.ForeignKey(RemoteServer, on_delete=models.CASCADE, related_name="realms")
    uuid = models.UUIDField(unique=True)
    host = models.CharField(max_length=255)
    name = models.CharField(max_length=255, blank=True)
    org_type = models.PositiveSmallIntegerField(default=0)
    registered_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    deactivated = models.BooleanField(default=False)  # by its server
    locally_deleted = models.BooleanField(default=False)  # its server says it no longer hosts it

    def __str__(self) -> str:
        return f"{self.name or self.host} ({self.uuid})"


class RemoteAccount(models.Model):
    """What realm users and server users share: who they are and what they agreed to."""

    email = models.EmailField(max_length=254)
    full_name = models.CharField(max_length=255)
    date_joined = models.DateTimeField()
    last_login = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    tos_version = models.CharField(max_length=16, blank=True)  # "" means never accepted
    enable_major_release_emails = models.BooleanField(default=True)
    enable_maintenance_release_emails = models.BooleanField(default=True)

    class Meta:
        abstract = True


class RemoteRealmUser(RemoteAccount):
    realm = models.ForeignKey(RemoteRealm, on_delete=models.CASCADE, related_name="users")
    user_uuid = models.UUIDField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["realm", "user_uuid"], name="one_user_per_realm_uuid")
        ]

    def __str__(self) -> str:
        return f"{self.email} on {self.realm_id}"


class RemoteServerUser(RemoteAccount):
    server = models.ForeignKey(RemoteServer, on_delete=models.CASCADE, related_name="users")
    email_key = models.CharField(max_length=254)  # normalised e-mail

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["server", "email_key"], name="one_user_per_server_email"
            )
        ]

    def __str__(self) -> str:
        return f"{self.email} on {self.server_id}"


class Preregistration(models.Model):
    """A first-time log-in waiting for its e-mail to be confirmed: for a realm user (realm and
    user uuid set) or a server user (realm empty)."""

    class Status(models.TextChoices):
        PENDING = "pending"
        USED = "used"

    server = models.ForeignKey(
        RemoteServer, on_delete=models.CASCADE, related_name="preregistrations"
    )
    realm = models.ForeignKey(RemoteRealm, on_delete=models.CASCADE, null=True, blank=True)
    user_uuid = models.UUIDField(null=True, blank=True)
    email = models.EmailField(max_length=254)
    full_name = models.CharField(max_length=255, blank=True)
    uri_scheme = models.CharField(max_length=8, default="https://")
    next_page = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    created_realm_user = models.ForeignKey(
        RemoteRealmUser, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_server_user = models.ForeignKey(
        RemoteServerUser, on_delete=models.SET_NULL, null=True, blank=True
    )

    def __str__(self) -> str:
        return f"pre-registration of {self.email} ({self.status})"


class SpentLoginToken(models.Model):
    """Signed log-in links that completed a log-in: each works once. Swept after expiry."""

    nonce = models.CharField(max_length=32, unique=True)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"spent log-in link {self.nonce[:8]}"
