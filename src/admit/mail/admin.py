from django.contrib import admin

from admit.mail.models import OutgoingEmail


@admin.register(OutgoingEmail)
class OutgoingEmailAdmin(admin.ModelAdmin):
    list_display = (
        "created_at",
        "template",
        "to",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error",
    )
    list_filter = ("status", "template")
    search_fields = ("to", "message_id")
    # The bodies may hold a live link until delivery: not shown.
    exclude = ("body_text", "body_html")
    readonly_fields = (
        "template",
        "to",
        "subject",
        "message_id",
        "created_at",
        "sent_at",
        "last_error",
    )
