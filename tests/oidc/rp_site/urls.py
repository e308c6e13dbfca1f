from django.urls import include, path

from tests.oidc.rp_site import views

urlpatterns = [
    path("", views.home),
    path("logged-out/", views.logged_out),
    path("failed/", views.failed),
    path("oidc/", include("mozilla_django_oidc.urls")),
]
