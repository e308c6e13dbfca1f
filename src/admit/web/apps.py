from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "admit.web"
    label = "web"
