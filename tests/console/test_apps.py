"""The console's Apps page: the OpenID Connect clients, adding one (its secret shown once),
rotating a secret and removing a client, each change asked for twice; each client's own page
(what ``admit apps show`` shows); and a user's consents on their page."""

from __future__ import annotations

import re

import pytest
from django.test import Client as Browser

from admit.audit.models import AuditEvent
from admit.sso.oidc.models import Client, Consent
from tests.conftest import ADMIN_PASSWORD, GOOD_PASSWORD
from tests.console.conftest import log_in, make_user, web_client
from tests.oidc.support import LOGOUT_URI, REDIRECT_URI, basic, get_code, make_client
from tests.oidc.support import log_in as browser_log_in

pytestmark = pytest.mark.django_db
APPS = "/console/apps/"


def token_status(client_id: str, secret: str) -> int:
    """400 (invalid_grant for a made-up code) once the client authenticated, 401 if not."""
    response = Browser().post(
        "/oidc/token/",
        {"grant_type": "authorization_code", "code": "nope", "redirect_uri": REDIRECT_URI},
        HTTP_AUTHORIZATION=basic(client_id, secret),
    )
    return response.status_code


def shown_secret(page: str) -> str:
    return re.search(r'<code class="secret">([^<]+)</code>', page).group(1)


def test_the_apps_page_lists_every_client_and_is_in_the_navigation(console):
    page = console.get(APPS).content.decode()
    assert "No clients yet." in page
    assert '<a href="/console/apps/" aria-current="page">Apps</a>' in page
    crm = make_client("CRM").client
    erp = make_client("ERP", public=True, skip_consent=True).client
    page = console.get(APPS).content.decode()
    rows = re.findall(r"<tr>.*?</tr>", page, re.DOTALL)[1:]
    assert len(rows) == 2
    assert f"<code>{crm.client_id}</code>" in rows[0] and "confidential" in rows[0]
    assert "asked" in rows[0] and f"<code>{REDIRECT_URI}</code>" in rows[0]
    assert "Rotate secret" in rows[0] and "Remove" in rows[0]
    assert f"<code>{erp.client_id}</code>" in rows[1] and "public" in rows[1]
    assert "skipped" in rows[1] and "Rotate secret" not in rows[1]  # no secret to rotate
    assert "/.well-known/openid-configuration" in page


def test_adding_a_client_shows_its_secret_once(console, superuser):
    form = console.get("/console/apps/new/").content.decode()
    assert 'name="csrfmiddlewaretoken"' in form
    answer = console.post(
        "/console/apps/new/",
        {
            "app": "CRM",
            "redirect_uris": f"{REDIRECT_URI}\r\n https://crm.example.com/cb \r\n",
            "post_logout_redirect_uris": "https://crm.example.com/bye",
            "algorithm": "ES256",
            "refresh_id_token": "on",
        },
    )
    page = answer.content.decode()
    assert answer.status_code == 200 and "no-store" in answer["Cache-Control"]
    client = Client.objects.get()
    secret = shown_secret(page)
    assert "it will not be shown again" in page and f"<code>{client.client_id}</code>" in page
    assert token_status(client.client_id, secret) == 400
    assert client.redirect_uris.split() == [REDIRECT_URI, "https://crm.example.com/cb"]
    assert client.post_logout_redirect_uris == "https://crm.example.com/bye"
    assert (client.is_public, client.skip_authorization, client.algorithm) == (
        False,
        False,
        "ES256",
    )
    assert client.refresh_id_token
    listed = console.get(APPS).content.decode()
    assert secret not in listed and "ES256, ID token on refresh" in listed
    row = AuditEvent.objects.get(event="oidc.client_add")
    assert row.actor_user_id == superuser.user_id and secret not in str(row.extra_data)


def test_a_public_client_is_shown_without_a_secret(console):
    page = console.post(
        "/console/apps/new/",
        {"app": "ERP", "redirect_uris": REDIRECT_URI, "public": "on", "algorithm": "RS256"},
    ).content.decode()
    client = Client.objects.get()
    assert client.is_public and not client.refresh_id_token  # not asked for
    assert 'class="secret"' not in page and "a public client uses PKCE" in page


@pytest.mark.parametrize(
    ("data", "field", "says"),
    [
        ({"app": "", "redirect_uris": REDIRECT_URI}, "app", "This field is required."),
        ({"app": "Nope", "redirect_uris": REDIRECT_URI}, "app", "Select a valid choice."),
        ({"app": "CRM", "redirect_uris": "  \r\n"}, "redirect_uris", "This field is required."),
        (
            {"app": "CRM", "redirect_uris": f"{REDIRECT_URI}\nhttp://crm.example.com/cb"},
            "redirect_uris",
            "http://crm.example.com/cb: http:// is allowed only for 127.0.0.1",
        ),
        (
            {"app": "CRM", "redirect_uris": REDIRECT_URI, "post_logout_redirect_uris": "x#y"},
            "post_logout_redirect_uris",
            "x#y: must be an absolute https:// address",
        ),
    ],
)
def test_a_refused_client_is_explained_next_to_its_field(console, data, field, says):
    answer = console.post("/console/apps/new/", {"algorithm": "RS256", **data})
    page = answer.content.decode()
    assert answer.status_code == 400
    errors = re.search(rf'id="id_{field}_error">(.*?)</div>', page, re.DOTALL)
    assert errors and says in errors.group(1), page
    assert not Client.objects.exists()


def test_rotating_a_secret_asks_first_then_shows_the_new_one_once(console):
    new = make_client()
    path = f"/console/apps/{new.client.client_id}/rotate-secret/"
    asked = console.post(path).content.decode()
    assert "The old secret stops working at once" in asked
    assert 'name="confirmed" value="yes"' in asked
    assert token_status(new.client.client_id, new.secret) == 400  # nothing changed yet
    done = console.post(path, {"confirmed": "yes"})
    secret = shown_secret(done.content.decode())
    assert "no-store" in done["Cache-Control"]
    assert token_status(new.client.client_id, new.secret) == 401
    assert token_status(new.client.client_id, secret) == 400
    assert console.get(path).status_code == 405  # a change is a POST


def test_removing_a_client_asks_first_then_it_goes_with_its_consents(console, superuser):
    new = make_client()
    browser = Browser()
    browser_log_in(browser, superuser.username, ADMIN_PASSWORD)
    get_code(browser, new.client.client_id)
    path = f"/console/apps/{new.client.client_id}/remove/"
    asked = console.post(path).content.decode()
    assert "the 1 consent people gave it" in asked and Client.objects.exists()
    done = console.post(path, {"confirmed": "yes"}, follow=True).content.decode()
    assert f"Removed the CRM client {new.client.client_id}." in done
    assert not Client.objects.exists() and not Consent.objects.exists()
    assert console.post(path, {"confirmed": "yes"}).status_code == 404


def test_changes_need_the_csrf_token(admin_ust):
    new = make_client()
    strict = web_client(admin_ust)
    strict.handler.enforce_csrf_checks = True
    path = f"/console/apps/{new.client.client_id}/remove/"
    assert strict.post(path, {"confirmed": "yes"}).status_code == 403
    assert strict.post("/console/apps/new/", {"app": "CRM"}).status_code == 403
    assert Client.objects.count() == 1


def test_a_normal_user_cannot_change_clients(admin_ust):
    new = make_client()
    make_user(admin_ust, "alice")
    alice = web_client(log_in("alice"))
    for action in ("rotate-secret", "remove"):
        answer = alice.post(f"/console/apps/{new.client.client_id}/{action}/", {"confirmed": "yes"})
        assert answer.status_code == 403
    assert (
        alice.post("/console/apps/new/", {"app": "CRM", "redirect_uris": REDIRECT_URI}).status_code
        == 403
    )
    assert Client.objects.count() == 1 and token_status(new.client.client_id, new.secret) == 400


def test_the_user_page_lists_the_apps_the_user_allowed(console, superuser):
    page = console.get(f"/console/users/{superuser.user_id}/").content.decode()
    assert "No app has been allowed to use this account." in page
    new = make_client("ERP")
    browser = Browser()
    browser_log_in(browser, superuser.username, ADMIN_PASSWORD)
    get_code(browser, new.client.client_id)
    page = console.get(f"/console/users/{superuser.user_id}/").content.decode()
    table = re.search(r'<table class="data" id="apps">.*?</table>', page, re.DOTALL).group(0)
    assert '<th scope="row">ERP</th>' in table and new.client.client_id in table
    assert "openid" in table and "email" in table


# ---- one client's page: what `admit apps show` shows ----------------------------------------


def fact(page: str, key: str) -> str:
    """The text of one fact of the client's page (its ``<dd id="client-KEY">``)."""
    found = re.search(rf'<dd id="client-{key}">(.*?)</dd>', page, re.DOTALL)
    assert found, f"no {key} on the page"
    return found.group(1)


def test_the_client_page_shows_what_admit_apps_show(console, superuser, admin_ust):
    new = make_client(
        "ERP",
        post_logout_redirect_uris=(LOGOUT_URI, "https://erp.example.com/bye"),
        algorithm="ES256",
        refresh_id_token=True,
    )
    client = new.client
    make_user(admin_ust, "alice")
    for name, password in (("boss", ADMIN_PASSWORD), ("alice", GOOD_PASSWORD)):
        browser = Browser()
        browser_log_in(browser, name, password)
        get_code(browser, client.client_id)
    answer = console.get(f"{APPS}{client.client_id}/")
    page = answer.content.decode()
    assert answer.status_code == 200
    assert '<a href="/console/apps/" aria-current="page">Apps</a>' in page
    assert "<h1>The ERP client</h1>" in page
    assert fact(page, "post_logout_redirect_uris") == (
        f"<code>{LOGOUT_URI}</code><br><code>https://erp.example.com/bye</code>"
    )
    assert fact(page, "redirect_uris") == f"<code>{REDIRECT_URI}</code>"
    assert fact(page, "algorithm").startswith("<code>ES256</code>")
    assert fact(page, "type").startswith("confidential:")
    assert fact(page, "consent").startswith("asked:")
    assert fact(page, "refresh_id_token").startswith("yes:")
    assert fact(page, "consents") == "2 people have allowed the app"
    client.refresh_from_db()
    created = client.created.isoformat(timespec="seconds")
    assert fact(page, "created") == (
        f'<time datetime="{created}">{client.created:%Y-%m-%d %H:%M:%S}</time>'
    )
    assert f'<time datetime="{client.updated.isoformat(timespec="seconds")}">' in page
    assert new.secret not in page and "secret" not in fact(page, "client_id")


def test_the_client_page_of_a_public_client_that_skips_consent(console):
    client = make_client("CRM", public=True, skip_consent=True, post_logout_redirect_uris=()).client
    page = console.get(f"{APPS}{client.client_id}/").content.decode()
    assert fact(page, "type").startswith("public:") and "PKCE" in fact(page, "type")
    assert fact(page, "consent").startswith("skipped:")
    assert fact(page, "refresh_id_token").startswith("no:")
    assert fact(page, "post_logout_redirect_uris") == "none"
    assert fact(page, "algorithm").startswith("<code>RS256</code>")
    assert fact(page, "consents") == "0 people have allowed the app"
    assert "Rotate the secret" not in page  # a public client has no secret
    assert "Remove the client" in page


def test_the_client_page_shows_every_fact_of_admit_apps_show_with_words(console):
    """The page is made from the CLI's ``describe``: each of its facts is on the page, under
    a label of its own (not its bare key), with the value the command prints."""
    from admit.console.views import CLIENT_LABELS
    from admit.sso.oidc.clients import describe

    client = make_client().client
    page = console.get(f"{APPS}{client.client_id}/").content.decode()
    shown = describe(client)
    assert set(shown) <= set(CLIENT_LABELS), set(shown) - set(CLIENT_LABELS)
    assert re.findall(r'<dd id="client-([a-z_]+)">', page) == list(shown)
    for key, value in shown.items():
        assert f'<dt id="fact-{key}">{CLIENT_LABELS[key]}</dt>' in page
        if isinstance(value, bool):
            value = "yes" if value else "no"
        for part in value if isinstance(value, list) else [value]:
            assert str(part) in fact(page, key), key


def test_the_apps_list_links_each_client_to_its_page(console):
    crm = make_client("CRM").client
    erp = make_client("ERP", public=True).client
    page = console.get(APPS).content.decode()
    for client in (crm, erp):
        link = f'<a href="/console/apps/{client.client_id}/"><code>{client.client_id}</code></a>'
        assert link in page
        assert console.get(f"{APPS}{client.client_id}/").status_code == 200


def test_the_client_page_offers_rotating_and_removing_which_come_back_to_it(console):
    new = make_client()
    client_id = new.client.client_id
    here = f"{APPS}{client_id}/"
    page = console.get(here).content.decode()
    forms = re.findall(r'<form method="post" action="([^"]+)">(.*?)</form>', page, re.DOTALL)
    forms = [(action, form) for action, form in forms if action.startswith(APPS)]
    assert [action for action, _ in forms] == [f"{here}rotate-secret/", f"{here}remove/"]
    for _, form in forms:
        assert 'name="csrfmiddlewaretoken"' in form and f'name="back" value="{here}"' in form
    for action in ("rotate-secret", "remove"):
        asked = console.post(f"{here}{action}/", {"back": here}).content.decode()
        assert f'<a href="{here}">Cancel, keep it</a>' in asked
        assert f'<a href="{here}">← The CRM client</a>' in asked
        from_list = console.post(f"{here}{action}/").content.decode()
        assert f'<a href="{APPS}">Cancel, keep it</a>' in from_list
        elsewhere = console.post(f"{here}{action}/", {"back": "/console/audit/"}).content.decode()
        assert f'<a href="{APPS}">Cancel, keep it</a>' in elsewhere
    assert token_status(client_id, new.secret) == 400  # asking changed nothing
    rotated = console.post(f"{here}rotate-secret/", {"confirmed": "yes"}).content.decode()
    assert f'<a href="{here}">The client\'s page</a>' in rotated
    assert console.post(here).status_code == 405  # the page only shows


def test_the_client_page_is_for_super_users_only(admin_ust):
    client = make_client().client
    make_user(admin_ust, "alice")
    for path in (f"{APPS}{client.client_id}/", f"{APPS}no-such-client/"):
        anonymous = web_client(None).get(path)
        assert anonymous.status_code == 302
        assert anonymous["Location"] == "/login/?next=" + path.replace("/", "%2F")
        refused = web_client(log_in("alice")).get(path)
        assert refused.status_code == 403 and b"Super-users only" in refused.content
        assert client.client_id.encode() not in refused.content


@pytest.mark.parametrize(
    "client_id",
    [
        "no-such-client",
        "0" * 40,
        "x" * 101,  # longer than any client id
        "%00",  # NUL, which PostgreSQL cannot even compare
        "a%0Ab",
        "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "%C3%BC%F0%9F%94%91",
        "%FF%FE",  # not UTF-8
        "a%20b",
        "..",
        "'%20OR%20'1'='1",
    ],
)
def test_an_unknown_client_is_a_404_page_of_the_console(console, client_id):
    make_client()
    answer = console.get(f"{APPS}{client_id}/")
    page = answer.content.decode()
    assert answer.status_code == 404
    assert "<h1>No such client</h1>" in page and "it may have been removed" in page
    assert '<a href="/console/apps/" aria-current="page">Apps</a>' in page
    assert "<script>" not in page
    for action in ("rotate-secret", "remove"):
        assert console.post(f"{APPS}{client_id}/{action}/", {"confirmed": "yes"}).status_code == 404
    assert Client.objects.count() == 1
