from django.contrib import admin

from admit.audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "event",
        "outcome",
        "error_codes",
        "actor_user_id",
        "target_user_id",
        "app",
        "remote_ip",
    )
    list_filter = ("event", "outcome", "app")
    search_fields = ("actor_user_id", "target_user_id", "cid")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
