"""The pages for people; the JSON API is in admit.sso.api."""

from django.urls import path

from admit.sso import views

urlpatterns = [
    path("signup/", views.signup_page, name="signup"),
    path("login/", views.login_page, name="login"),
    path("logout/", views.logout_page, name="logout"),
    path("password/reset/", views.reset_ask_page, name="password-reset"),
    path("password/reset/set/", views.reset_set_page, name="password-reset-set"),
    path("account/", views.account_page, name="account"),
    path("account/profile/", views.profile_page, name="account-profile"),
    path("account/password/", views.password_page, name="account-password"),
    path("account/totp/", views.totp_page, name="account-totp"),
    path("account/sessions/end/", views.end_session_page, name="account-session-end"),
    path(
        "account/sessions/end-others/",
        views.end_other_sessions_page,
        name="account-sessions-end-others",
    ),
]
