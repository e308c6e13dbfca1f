"""/dev/outbox: the developer's inbox, in debug mode only."""

from __future__ import annotations

import pytest

from admit.mail.outbox import deliver_due
from tests.conftest import signup_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def file_backend(settings, tmp_path):
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path)
    return tmp_path


def test_outbox_shows_delivered_mail_in_debug_mode(api, client, settings, file_backend):
    settings.DEBUG = True
    token = api.post("/zato/sso/user/signup", signup_body()).json()["confirm_token"]
    assert deliver_due() == 1
    page = client.get("/dev/outbox")
    assert page.status_code == 200
    assert b"Confirm your sign-up, user1" in page.content
    assert b"user1@example.com" in page.content
    assert f"/confirm/{token}/".encode() in page.content


def test_outbox_shows_each_mail_once_and_no_notice(api, client, settings, file_backend):
    """The mails are not handed to the layout's notices (Django's ``messages``)."""
    settings.DEBUG = True
    api.post("/zato/sso/user/signup", signup_body())
    assert deliver_due() == 1
    html = client.get("/dev/outbox").content.decode()
    assert html.count("Confirm your sign-up, user1") == 1
    assert 'class="notices"' not in html and "{&#x27;subject&#x27;" not in html


def test_outbox_does_not_exist_outside_debug_mode(client, settings, file_backend):
    settings.DEBUG = False
    assert client.get("/dev/outbox").status_code == 404


def test_health_answers_a_constant(client):
    response = client.get("/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
