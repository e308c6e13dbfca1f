"""``admit apps ...`` and ``admit oidc rotate-key``, run through ``admit.cli.main`` in the test
process (so they see the test database), as an operator meets them."""

from __future__ import annotations

import json

import pytest
from django.conf import settings
from django.test import Client as Browser

from admit.audit.models import AuditEvent
from admit.cli import main
from admit.sso.oidc import keys
from admit.sso.oidc.models import Client, Consent
from tests.conftest import ADMIN_PASSWORD
from tests.oidc.support import REDIRECT_URI, basic, get_code, log_in

pytestmark = pytest.mark.django_db
DISCOVERY = "/.well-known/openid-configuration"


def admit(capsys, *args: str) -> str:
    capsys.readouterr()
    main(list(args))
    return capsys.readouterr().out


def refused(capsys, *args: str, exit_code: int = 2) -> str:
    """The one line an operator reads when the command refuses (never a traceback)."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    assert exited.value.code == exit_code
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("admit: "), err
    assert "Traceback" not in err
    return lines[0]


def add(capsys, *options: str, app: str = "CRM") -> dict:
    return json.loads(
        admit(capsys, "apps", "add-client", app, "--redirect-uri", REDIRECT_URI, *options, "--json")
    )


def token_answer(client_id: str, secret: str) -> int:
    """The token endpoint's status for a made-up code: 400 (invalid_grant) once the client
    authenticated, 401 (invalid_client) when the secret is wrong."""
    response = Browser().post(
        "/oidc/token/",
        {"grant_type": "authorization_code", "code": "nope", "redirect_uri": REDIRECT_URI},
        HTTP_AUTHORIZATION=basic(client_id, secret),
    )
    return response.status_code


def test_add_client_prints_the_secret_once_and_the_discovery_url(capsys):
    out = admit(
        capsys, "apps", "add-client", "CRM",
        "--redirect-uri", REDIRECT_URI, "--redirect-uri", "https://crm.example.com/cb",
        "--post-logout-redirect-uri", "https://crm.example.com/bye",
    )  # fmt: skip
    client = Client.objects.get()
    secret = next(
        line.split()[-1] for line in out.splitlines() if line.strip().startswith("client_secret:")
    )
    assert f"client_id:     {client.client_id}" in out
    assert "will not be shown again" in out
    assert f"discovery:     {settings.ADMIT_BASE_URL}{DISCOVERY}" in out
    assert Browser().get(DISCOVERY).status_code == 200
    assert secret not in client.client_secret  # kept as a digest
    assert token_answer(client.client_id, secret) == 400
    assert token_answer(client.client_id, secret + "x") == 401
    assert client.redirect_uris.split() == [REDIRECT_URI, "https://crm.example.com/cb"]
    assert client.post_logout_redirect_uris == "https://crm.example.com/bye"
    assert (client.is_public, client.skip_authorization, client.algorithm) == (
        False,
        False,
        "RS256",
    )
    assert not client.refresh_id_token
    assert AuditEvent.objects.get(event="oidc.client_add").outcome == "ok"
    # ``show`` and ``list`` never print it again.
    assert secret not in admit(capsys, "apps", "show", client.client_id)
    assert secret not in admit(capsys, "apps", "list", "--json")


def test_a_public_client_has_no_secret_and_its_options_are_kept(capsys):
    made = add(capsys, "--public", "--skip-consent", "--algorithm", "ES256", "--refresh-id-token")
    assert set(made) == {"client_id", "discovery"}
    client = Client.objects.get(client_id=made["client_id"])
    assert (client.is_public, client.skip_authorization, client.algorithm) == (True, True, "ES256")
    assert client.refresh_id_token
    assert json.loads(admit(capsys, "apps", "show", client.client_id, "--json"))["refresh_id_token"]
    out = admit(capsys, "apps", "add-client", "ERP", "--redirect-uri", REDIRECT_URI, "--public")
    assert "client_secret" not in out and "no secret" in out


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["NoSuchApp", "--redirect-uri", REDIRECT_URI], "app 'NoSuchApp': not an app of [apps]"),
        (["CRM", "--redirect-uri", "http://crm.example.com/cb"], "use https://"),
        (["CRM", "--redirect-uri", "https://crm.example.com/cb#x"], "#fragment"),
        (["CRM", "--redirect-uri", "http://[::1/cb"], "redirect_uri: not a valid address"),
        (
            ["CRM", "--redirect-uri", REDIRECT_URI, "--post-logout-redirect-uri", "https://[x]/"],
            "post_logout_redirect_uri: not a valid address",
        ),
        (
            ["CRM", "--redirect-uri", REDIRECT_URI, "--post-logout-redirect-uri", "relative/"],
            "post_logout_redirect_uri: must be an absolute https:// address",
        ),
    ],
)
def test_a_refused_client_is_one_line_and_exit_2(capsys, args, says):
    line = refused(capsys, "apps", "add-client", *args)
    assert says in line
    assert not Client.objects.exists()
    assert AuditEvent.objects.get(event="oidc.client_add").outcome == "error"


def test_add_client_without_a_redirect_uri_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["apps", "add-client", "CRM"])
    assert exited.value.code == 2
    assert "--redirect-uri" in capsys.readouterr().err


def test_list_is_a_table_of_every_client(capsys):
    assert "No clients yet" in admit(capsys, "apps", "list")
    assert json.loads(admit(capsys, "apps", "list", "--json")) == []
    first = add(capsys)
    second = add(capsys, "--public", "--skip-consent", app="ERP")
    lines = admit(capsys, "apps", "list").splitlines()
    assert lines[0].split("  ")[0] == "APP"
    for heading in ("CLIENT_ID", "TYPE", "CONSENT", "REDIRECT URIS", "CREATED (UTC)"):
        assert heading in lines[0]
    assert lines[1].split()[:5] == [
        "CRM",
        first["client_id"],
        "confidential",
        "asked",
        REDIRECT_URI,
    ]
    assert lines[2].split()[:5] == ["ERP", second["client_id"], "public", "skipped", REDIRECT_URI]
    # The columns line up: each client_id starts where its heading does.
    assert lines[1].index(first["client_id"]) == lines[0].index("CLIENT_ID")


def test_show_names_one_client_and_an_unknown_id_is_one_line(capsys):
    made = add(capsys, "--post-logout-redirect-uri", "https://crm.example.com/bye")
    shown = json.loads(admit(capsys, "apps", "show", made["client_id"], "--json"))
    assert shown["app"] == "CRM" and shown["redirect_uris"] == [REDIRECT_URI]
    assert shown["post_logout_redirect_uris"] == ["https://crm.example.com/bye"]
    assert shown["consents"] == 0
    assert shown["refresh_id_token"] is False
    text = admit(capsys, "apps", "show", made["client_id"])
    assert "type:" in text and "confidential" in text
    assert refused(capsys, "apps", "show", "no-such-client") == "admit: no client 'no-such-client'"


def test_rotate_secret_prints_a_new_one_and_the_old_stops_working(capsys):
    made = add(capsys)
    rotated = json.loads(admit(capsys, "apps", "rotate-secret", made["client_id"], "--json"))
    assert rotated["client_secret"] != made["client_secret"]
    assert token_answer(made["client_id"], made["client_secret"]) == 401
    assert token_answer(made["client_id"], rotated["client_secret"]) == 400
    text = admit(capsys, "apps", "rotate-secret", made["client_id"])
    assert "will not be shown again" in text


def test_a_public_client_has_no_secret_to_rotate(capsys):
    made = add(capsys, "--public")
    assert "public client has no secret" in refused(
        capsys, "apps", "rotate-secret", made["client_id"]
    )


def test_remove_without_a_terminal_needs_yes(capsys, monkeypatch, superuser):
    made = add(capsys)
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert "--yes" in refused(capsys, "apps", "remove", made["client_id"])
    assert Client.objects.filter(client_id=made["client_id"]).exists()
    # With --yes it goes, with the consents people gave it.
    browser = Browser()
    log_in(browser, superuser.username, ADMIN_PASSWORD)
    get_code(browser, made["client_id"])
    assert Consent.objects.count() == 1
    out = admit(capsys, "apps", "remove", made["client_id"], "--yes")
    assert out == f"Removed the CRM client {made['client_id']}.\n"
    assert not Client.objects.exists() and not Consent.objects.exists()
    assert "no client" in refused(capsys, "apps", "remove", made["client_id"], "--yes")


@pytest.mark.parametrize(("answer", "removed"), [("y", True), ("n", False), ("", False)])
def test_remove_asks_on_a_terminal(capsys, monkeypatch, answer, removed):
    made = add(capsys)
    asked = []
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: asked.append(prompt) or answer)
    if removed:
        admit(capsys, "apps", "remove", made["client_id"])
    else:
        assert refused(capsys, "apps", "remove", made["client_id"], exit_code=1) == (
            "admit: nothing removed"
        )
    assert len(asked) == 1 and "0 consent(s)" in asked[0] and asked[0].endswith("[y/N] ")
    assert Client.objects.exists() is not removed


def test_rotate_key_prints_the_new_key_ids_which_the_jwks_then_publishes(
    capsys, settings, tmp_path, monkeypatch
):
    monkeypatch.delenv(keys.ENV_VARIABLE, raising=False)
    settings.ADMIT_DATA_DIR = str(tmp_path)
    before = {key["kid"] for key in Browser().get("/oidc/jwks/").json()["keys"]}
    out = admit(capsys, "oidc", "rotate-key")
    first = out.splitlines()[0]
    assert first.startswith("New signing keys in use: ")
    new = first.removeprefix("New signing keys in use: ").split(", ")
    assert len(new) == 2 and not set(new) & before
    published = {key["kid"] for key in Browser().get("/oidc/jwks/").json()["keys"]}
    assert published == before | set(new)  # the old keys stay for their grace period
    assert "Dropped now: none" in out
    row = AuditEvent.objects.get(event="oidc.key_rotate")
    assert row.extra_data == {"new": new, "dropped": []}


def test_rotate_key_with_keys_from_the_environment_says_how(capsys, monkeypatch):
    monkeypatch.setenv(keys.ENV_VARIABLE, "-----BEGIN PRIVATE KEY-----...")
    line = refused(capsys, "oidc", "rotate-key")
    assert "ADMIT_OIDC_KEY" in line and "restart admit" in line
    assert not AuditEvent.objects.filter(event="oidc.key_rotate").exists()
