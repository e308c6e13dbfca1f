"""A small Django site that logs people in through admit with mozilla-django-oidc, as
docs/oidc.md tells operators to set one up. It runs as a process of its own (``django-admin
runserver`` with ``--settings=tests.oidc.rp_site.settings``), configured by ``RP_SITE_*``
environment variables: tests/oidc/live.py starts it."""
