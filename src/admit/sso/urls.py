"""The pages for people; the JSON API is in admit.sso.api."""

from django.urls import path

from admit.sso import account_views, views

urlpatterns = [
    path("signup/", views.signup_page, name="signup"),
    path("login/", views.login_page, name="login"),
    path("logout/", views.logout_page, name="logout"),
    path("password/reset/", views.reset_ask_page, name="password-reset"),
    path("password/reset/set/", views.reset_set_page, name="password-reset-set"),
    path("account/", account_views.account_page, name="account"),
    path("account/profile/", account_views.profile_page, name="account-profile"),
    path("account/password/", account_views.password_page, name="account-password"),
    path("account/totp/", account_views.totp_page, name="account-totp"),
    path("account/sessions/end/", account_views.end_session_page, name="account-session-end"),
    path(
        "account/sessions/end-others/",
        account_views.end_other_sessions_page,
        name="account-sessions-end-others",
    ),
    path("account/apps/revoke/", account_views.revoke_app_page, name="account-app-revoke"),
]
