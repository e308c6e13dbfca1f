from django.urls import path

from admit.console import views

app_name = "console"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("queue/", views.queue, name="queue"),
    path("users/", views.users, name="users"),
    path("users/new/", views.user_new, name="user-new"),
    path("users/<str:user_id>/", views.user, name="user"),
    path("users/<str:user_id>/lock/", views.user_lock, name="user-lock"),
    path("users/<str:user_id>/sessions/end/", views.user_sessions_end, name="user-sessions-end"),
    path("remote/", views.remote, name="remote"),
    path("remote/<uuid:uuid>/", views.remote_server, name="remote-server"),
    path("audit/", views.audit, name="audit"),
]
