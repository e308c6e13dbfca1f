from django.urls import path, register_converter

from admit.console import views


class PublicId:
    """A user id as admit makes them (``zusr…``): anything else is not found, not an error."""

    regex = "[0-9A-Za-z]{1,32}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class ClientId:
    """Any text, "/" and line breaks too: a client id no client has is the console's 404 page
    (``views.app``), not the site's, whatever it holds."""

    regex = r"[\s\S]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(PublicId, "public_id")
register_converter(ClientId, "client_id")

app_name = "console"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("queue/", views.queue, name="queue"),
    path("users/", views.users, name="users"),
    path("users/new/", views.user_new, name="user-new"),
    path("users/<public_id:user_id>/", views.user, name="user"),
    path("users/<public_id:user_id>/lock/", views.user_lock, name="user-lock"),
    path(
        "users/<public_id:user_id>/sessions/end/", views.user_sessions_end, name="user-sessions-end"
    ),
    path("apps/", views.apps, name="apps"),
    path("apps/new/", views.app_new, name="app-new"),
    # The client's page comes after its actions, or it would take their addresses as ids.
    path("apps/<client_id:client_id>/rotate-secret/", views.app_rotate, name="app-rotate"),
    path("apps/<client_id:client_id>/remove/", views.app_remove, name="app-remove"),
    path("apps/<client_id:client_id>/", views.app, name="app"),
    path("remote/", views.remote, name="remote"),
    path("remote/<uuid:uuid>/", views.remote_server, name="remote-server"),
    path("audit/", views.audit, name="audit"),
]
