from django.contrib import admin
from django.urls import include, path

from admit.api import api
from admit.confirmations.views import confirm_page
from admit.remote import views as remote
from admit.web import views as web

admin.site.site_header = "admit administration"

urlpatterns = [
    path("", web.home, name="home"),  # before the API, which has a root route of its own
    path("", api.urls),  # next: the API's hot paths resolve without trying the pages' routes
    path("health", web.health, name="health"),
    path("confirm/<str:key>/", confirm_page, name="confirm"),
    path("dev/outbox", web.outbox, name="dev-outbox"),
    path("remote-login/confirm/<str:key>/", remote.confirm_remote_email, name="remote-confirm"),
    path("remote-login/<str:token>/", remote.remote_login, name="remote-login"),
    path("serverlogin/", remote.server_login_page, name="server-login"),
    path("portal/", remote.portal_page("overview"), name="portal-overview"),
    path("portal/account/", remote.portal_page("account"), name="portal-account"),
    path("portal/deactivate/", remote.portal_page("deactivate"), name="portal-deactivate"),
    path("admin/", admin.site.urls),
    path("console/", include("admit.console.urls")),
    path("", include("admit.sso.urls")),
]
