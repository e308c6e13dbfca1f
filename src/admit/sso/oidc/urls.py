"""The provider's addresses. The names are django-oauth-toolkit's (namespace
``oauth2_provider``), which its discovery view reverses."""

from django.urls import path

from admit.sso.oidc import views

app_name = "oauth2_provider"

urlpatterns = [
    path("oidc/authorize/", views.AuthorizeView.as_view(), name="authorize"),
    path("oidc/token/", views.TokenView.as_view(), name="token"),
    path("oidc/revoke/", views.RevokeView.as_view(), name="revoke-token"),
    path("oidc/introspect/", views.IntrospectView.as_view(), name="introspect"),
    path("oidc/userinfo/", views.UserInfo.as_view(), name="user-info"),
    path("oidc/jwks/", views.jwks, name="jwks-info"),
    path("oidc/logout/", views.LogoutView.as_view(), name="rp-initiated-logout"),
    path(
        ".well-known/openid-configuration",
        views.DiscoveryView.as_view(),
        name="oidc-connect-discovery-info",
    ),
]
