"""Every layout links stylesheets that admit serves."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("page", "layout"),
    [
        ("/", "admit's own pages"),
        ("/serverlogin/", "the remote log-in pages"),
        ("/remote-login/not-a-token/", "the remote log-in pages, refusing"),
    ],
)
def test_a_pages_stylesheets_are_served(client, page, layout):
    html = client.get(page).content.decode()
    stylesheets = re.findall(r'<link rel="stylesheet" href="([^"]+)">', html)
    assert stylesheets, layout
    for href in stylesheets:
        served = client.get(href)
        assert served.status_code == 200, href
        assert served["Content-Type"].startswith("text/css"), href
