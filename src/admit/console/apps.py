from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class ConsoleConfig(AppConfig):
    default = True  # the module holds the admin's config too
    name = "admit.console"
    label = "console"
    verbose_name = "Super-admin console"


class ConsoleAdminConfig(admin_apps.AdminConfig):
    """Django's admin (``INSTALLED_APPS`` names it in place of ``django.contrib.admin``) with
    the console's log-in: ``admit.console.auth.ConsoleAdminSite``."""

    default = False
    default_site = "admit.console.auth.ConsoleAdminSite"
