from django.contrib import admin

from admit.remote.models import (
    Preregistration,
    RemoteRealm,
    RemoteRealmUser,
    RemoteServer,
    RemoteServerUser,
)


@admin.register(RemoteServer)
class RemoteServerAdmin(admin.ModelAdmin):
    list_display = (
        "hostname",
        "uuid",
        "contact_email",
        "registered_at",
        "last_seen_at",
        "last_version",
        "deactivated",
    )
    list_filter = ("deactivated",)
    search_fields = ("hostname", "uuid", "contact_email")
    # The key is shown once (`admit remote-servers add` or `rotate-key`); admit keeps its digest.
    exclude = ("key_digest",)
    readonly_fields = ("uuid", "registered_at", "last_seen_at", "last_request_at", "last_version")


@admin.register(RemoteRealm)
class RemoteRealmAdmin(admin.ModelAdmin):
    list_display = ("name", "host", "uuid", "server", "org_type", "deactivated")
    list_filter = ("deactivated",)
    search_fields = ("name", "host", "uuid")


@admin.register(RemoteRealmUser)
class RemoteRealmUserAdmin(admin.ModelAdmin):
    list_display = ("email", "full_name", "realm", "last_login", "tos_version", "is_active")
    search_fields = ("email", "full_name", "user_uuid")


@admin.register(RemoteServerUser)
class RemoteServerUserAdmin(admin.ModelAdmin):
    list_display = ("email", "full_name", "server", "last_login", "tos_version", "is_active")
    search_fields = ("email", "full_name")


@admin.register(Preregistration)
class PreregistrationAdmin(admin.ModelAdmin):
    list_display = ("email", "server", "realm", "next_page", "status", "created_at")
    list_filter = ("status",)
