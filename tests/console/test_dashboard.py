"""The dashboard: counts, the queue length, the sign-up funnel chart and its table."""

from __future__ import annotations

import re

import pytest

from admit.core.context import Caller
from admit.sso.flows import LoginRequest, approve, login
from tests.conftest import ADMIN_PASSWORD
from tests.console.conftest import log_in, sign_up, web_client

pytestmark = pytest.mark.django_db


def series_of(page: str) -> dict[str, list[int]]:
    svg = page[
        page.index('<svg class="chart"') : page.index("</svg>", page.index('<svg class="chart"'))
    ]
    found = {}
    for step, body in re.findall(
        r'<g class="series" data-step="([a-z-]+)"[^>]*>(.*?)</g>\s*(?=<g class="series"|$)',
        svg,
        re.S,
    ):
        found[step] = [int(n) for n in re.findall(r'class="point" data-count="(\d+)"', body)]
    return found


def test_counts_and_queue_length(console, admin_ust, superuser):
    sign_up("ann")
    sign_up("bob")
    sign_up("cat", confirm=False)
    page = console.get("/console/").content.decode()
    assert 'id="count-to-confirm">1<' in page
    assert 'id="count-to-approve">2<' in page
    assert 'id="count-users">4<' in page  # boss and the three sign-ups
    assert 'id="count-live-sessions">1<' in page  # the console's own
    assert 'id="queue-length">2<' in page


def test_the_funnel_has_one_series_per_step_with_the_right_numbers(console, admin_ust, clock):
    clock.advance(days=-1)  # yesterday (the console's session, opened today, stays live)
    ann, bob = sign_up("ann"), sign_up("bob")
    sign_up("cat", confirm=False)
    approve(ann, admin_ust, Caller())
    approve(ann, admin_ust, Caller())  # twice: still one person approved
    log_in("ann")
    log_in("ann")  # a second log-in is not a first log-in
    clock.advance(days=1)
    approve(bob, admin_ust, Caller())
    page = console.get("/console/").content.decode()
    series = series_of(page)
    assert list(series) == ["signed-up", "confirmed", "approved", "first-login"]
    assert all(len(values) == 30 for values in series.values())
    # Yesterday, then today (the last point).
    assert series["signed-up"][-2:] == [3, 0]
    assert series["confirmed"][-2:] == [2, 0]
    assert series["approved"][-2:] == [1, 1]
    # ann's first log-in yesterday; boss's (the admin_ust fixture) today.
    assert series["first-login"][-2:] == [1, 1]
    assert sum(series["first-login"]) == 2
    assert 'data-step="approved" data-total="2"' in page
    assert '<title id="funnel-title">' in page and '<desc id="funnel-desc">' in page
    table = page[page.index('id="funnel-table"') :]
    assert '<th scope="col">First log-in</th>' in table
    assert (
        '<tfoot><tr><th scope="row">Total</th><td>3</td><td>2</td><td>2</td><td>2</td></tr>'
        in table
    )


def test_per_week(console, admin_ust):
    sign_up("ann")
    page = console.get("/console/?by=week").content.decode()
    series = series_of(page)
    assert all(len(values) == 5 for values in series.values())
    assert sum(series["signed-up"]) == 1 and series["signed-up"][-1] == 1


def test_events_older_than_thirty_days_are_left_out(admin_ust, clock):
    sign_up("ann")
    clock.advance(days=31)
    console = web_client(login(LoginRequest("boss", ADMIN_PASSWORD, "CRM"), Caller()).ust)
    series = series_of(console.get("/console/").content.decode())
    # boss logged in 31 days ago (admin_ust): today's log-in is not a first one.
    assert sum(series["signed-up"]) == 0 and sum(series["first-login"]) == 0
