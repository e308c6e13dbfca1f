from django.contrib import admin

from admit.sso.models import Session, User


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = (
        "username",
        "email",
        "user_id",
        "approval_status",
        "confirmed_at",
        "is_locked",
        "is_superuser",
    )
    list_filter = ("approval_status", "is_locked", "is_superuser", "signup_app")
    search_fields = ("username", "email", "user_id")
    exclude = ("password", "username_key", "email_key")
    # The address changes through the flows (PATCH /zato/sso/user), which keep its key and
    # whether it is proven (``User.email_verified``) straight; here it would leave the key
    # of the old one behind, and the old one's proof with it.
    readonly_fields = (
        "user_id",
        "email",
        "email_confirmed_key",
        "sign_up_time",
        "last_login",
        "remote_ip",
    )


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):
    list_display = ("user", "app", "created_at", "expires_at", "remote_ip")
    exclude = ("ust_digest",)
    readonly_fields = ("user", "app", "created_at", "remote_ip", "remote_addr", "user_agent")
