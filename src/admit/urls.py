from typing import cast

from django.contrib import admin
from django.urls import URLPattern, include, path

from admit.api import api
from admit.confirmations.views import confirm_page
from admit.remote import views as remote
from admit.web import views as web


def _api_urls(prefixes: tuple[str, ...]) -> tuple[list, str, str]:
    """The API's routes, those under each of ``prefixes`` in a group of their own: a request
    is then matched against its group's routes, not against all thirty one by one."""
    patterns, app_name, namespace = api.urls
    routes = cast(list[URLPattern], patterns)  # django-ninja makes plain path() routes

    def under(prefix: str) -> list[URLPattern]:
        return [
            path(
                str(route.pattern).removeprefix(prefix),
                route.callback,
                route.default_args,
                cast(str, route.name),
            )
            for route in routes
            if str(route.pattern).startswith(prefix)
        ]

    groups = [path(prefix, include(under(prefix))) for prefix in prefixes]
    rest = [route for route in routes if not str(route.pattern).startswith(prefixes)]
    return [*groups, *rest], app_name, namespace


urlpatterns = [
    path("", web.home, name="home"),  # before the API, which has a root route of its own
    # The confirm-login page next, then the API: the hot paths resolve without trying the
    # other pages' routes, and the page without walking the API's.
    path("remote-login/<str:token>/", remote.remote_login, name="remote-login"),
    path("", _api_urls(("zato/sso/", "api/v1/remotes/"))),
    path("health", web.health, name="health"),
    path("confirm/<str:key>/", confirm_page, name="confirm"),
    path("dev/outbox", web.outbox, name="dev-outbox"),
    path("remote-login/confirm/<str:key>/", remote.confirm_remote_email, name="remote-confirm"),
    path("serverlogin/", remote.server_login_page, name="server-login"),
    path("portal/", remote.portal_page("overview"), name="portal-overview"),
    path("portal/account/", remote.portal_page("account"), name="portal-account"),
    path("portal/deactivate/", remote.portal_page("deactivate"), name="portal-deactivate"),
    path("portal/logout/", remote.portal_logout, name="portal-logout"),
    path("", include("admit.sso.oidc.urls")),
    path("admin/", admin.site.urls),
    path("console/", include("admit.console.urls")),
    path("", include("admit.sso.urls")),
]
