# admit is served over WSGI (see `admit serve`); this entry point exists for tooling only.
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "admit.settings")
application = get_asgi_application()
