from django.contrib import admin
from django.urls import path

from admit.api import api
from admit.confirmations.views import confirm_page
from admit.web import views as web

admin.site.site_header = "admit administration"

urlpatterns = [
    path("", web.home, name="home"),
    path("health", web.health, name="health"),
    path("confirm/<str:key>/", confirm_page, name="confirm"),
    path("dev/outbox", web.outbox, name="dev-outbox"),
    path("admin/", admin.site.urls),
    path("", api.urls),
]
