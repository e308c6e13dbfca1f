"""``admit apps add-client|list|show|rotate-secret|remove`` and ``admit oidc rotate-key``: the
operator's controls for the OpenID Connect clients of the apps in ``[apps]`` and for the keys
that sign ID tokens.

A client secret is printed once, when it is made or rotated: admit keeps only its digest.
Refusals (an unknown app, a redirect URI admit does not take, an unknown client id) are one
line on stderr and exit code 2, as the other commands' usage errors.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from admit.sso.oidc.clients import NewClient
    from admit.sso.oidc.models import Client

# As admit.sso.oidc.clients.DISCOVERY_PATH (not imported: the parser is built before Django).
DISCOVERY_PATH = "/.well-known/openid-configuration"


def _fail(message: str, exit_code: int = 2) -> NoReturn:
    """As ``admit.cli.fail`` (which this layer cannot import): one line, then the exit."""
    print(f"admit: {message}", file=sys.stderr, flush=True)
    sys.exit(exit_code)


def discovery_url() -> str:
    from admit.sso.oidc.clients import discovery_url

    return discovery_url()


# The columns of ``admit apps list``: heading, and the value of one described client.
COLUMNS = (
    ("APP", lambda row: str(row["app"])),
    ("CLIENT_ID", lambda row: str(row["client_id"])),
    ("TYPE", lambda row: str(row["type"])),
    ("CONSENT", lambda row: str(row["consent"])),
    ("REDIRECT URIS", lambda row: " ".join(row["redirect_uris"])),
    ("CREATED (UTC)", lambda row: str(row["created"])[:16].replace("T", " ")),
)


def table(rows: list[dict[str, object]]) -> str:
    """Rows under headings, each column as wide as its widest cell (the last one unpadded)."""
    cells = [[heading for heading, _ in COLUMNS]]
    cells += [[value(row) for _, value in COLUMNS] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in cells
    )


def _secret_lines(new: NewClient, verb: str) -> list[str]:
    client = new.client
    lines = [f"{verb} the {client.app} client {client.client_id}."]
    lines.append(f"  client_id:     {client.client_id}")
    if new.secret:
        lines.append(f"  client_secret: {new.secret}")
    lines.append(f"  discovery:     {discovery_url()}")
    if new.secret:
        lines.append(
            "The secret is shown only now and will not be shown again: admit keeps only its\n"
            "digest. Put it in the app's configuration now; if it is lost, run\n"
            f"  admit apps rotate-secret {client.client_id}"
        )
    else:
        lines.append("A public client has no secret: it must use PKCE (S256).")
    return lines


def _new_client_json(new: NewClient) -> str:
    data = {"client_id": new.client.client_id, "discovery": discovery_url()}
    if new.secret:
        data["client_secret"] = new.secret
    return json.dumps(data)


def _confirmed(client: Client, yes: bool) -> bool:
    """``--yes``, or a yes typed in the terminal; without a terminal ``--yes`` is required."""
    if yes:
        return True
    if not sys.stdin.isatty():
        _fail(
            f"remove has no terminal to ask on: add --yes to remove {client.client_id}"
            f" ({client.app})"
        )
    consents = client.consents.count()
    prompt = (
        f"Remove the {client.app} client {client.client_id}? Its {consents} consent(s) and"
        " every token it holds go with it, and the app can no longer log anyone in with it."
        " [y/N] "
    )
    try:
        answer = input(prompt)
    except EOFError:
        answer = ""
    return answer.strip().lower() in ("y", "yes")


def run_apps(args: argparse.Namespace) -> None:
    # Imported here: the parser is built before Django is set up.
    from admit.core.context import Caller
    from admit.core.errors import AdmitError
    from admit.sso.oidc import clients

    caller = Caller()
    try:
        if args.action == "add-client":
            new = clients.add_client(
                args.app,
                args.redirect_uri,
                caller,
                post_logout_redirect_uris=tuple(args.post_logout_redirect_uri or ()),
                public=args.public,
                skip_consent=args.skip_consent,
                algorithm=args.algorithm,
                refresh_id_token=args.refresh_id_token,
            )
            print(_new_client_json(new) if args.json else "\n".join(_secret_lines(new, "Added")))
        elif args.action == "list":
            rows = [clients.describe(client) for client in clients.list_clients()]
            if args.json:
                print(json.dumps(rows))
            elif rows:
                print(table(rows))
            else:
                print(
                    "No clients yet: add one with `admit apps add-client APP --redirect-uri URI`."
                )
        elif args.action == "show":
            shown = clients.describe(clients.get_client(args.client_id))
            if args.json:
                print(json.dumps(shown))
            else:
                for key, value in shown.items():
                    text = " ".join(value) if isinstance(value, list) else str(value)
                    print(f"{key + ':':<27}{text or '-'}")
        elif args.action == "rotate-secret":
            new = clients.rotate_secret(args.client_id, caller)
            print(_new_client_json(new) if args.json else "\n".join(_secret_lines(new, "Rotated")))
        else:
            client = clients.get_client(args.client_id)
            if not _confirmed(client, args.yes):
                _fail("nothing removed", 1)
            clients.remove_client(client.client_id, caller)
            print(f"Removed the {client.app} client {client.client_id}.")
    except AdmitError as error:
        _fail(error.message)


def run_oidc(args: argparse.Namespace) -> None:
    from admit.audit.log import audited
    from admit.core.context import Caller
    from admit.sso.oidc import keys

    if keys.from_environment():
        _fail(
            f"the signing keys come from {keys.ENV_VARIABLE}: to rotate, put the new PEM key"
            " there (keep the old one beside it until tokens signed with it have expired),"
            " then restart admit"
        )
    try:
        with audited("oidc.key_rotate", Caller()) as audit:
            fresh, dropped = keys.rotate()
            audit.extra_data.update({"new": fresh, "dropped": dropped})
    except keys.KeyProblem as problem:
        _fail(str(problem), 1)
    print(f"New signing keys in use: {', '.join(fresh)}")
    print(
        f"The keys they replace stay in the JWKS for {keys.RETIRED_KEY_GRACE.days} days;"
        " the first rotation after that drops them."
    )
    print(f"Dropped now: {', '.join(dropped) if dropped else 'none'}")


# What each action does: its line in ``admit apps --help`` and its own --help.
ACTIONS = {
    "add-client": "register an OpenID Connect client of an app; prints its client_id and,"
    " for a confidential client, its secret once",
    "list": "every client: app, client_id, type, consent, redirect URIs, created",
    "show": "one client, without its secret (admit keeps only a digest)",
    "rotate-secret": "give a confidential client a new secret (printed once); the old one"
    " stops working at once",
    "remove": "remove a client, with its consents and every token it holds",
}


def add_parser(commands: argparse._SubParsersAction) -> None:
    _add_apps(commands)
    _add_oidc(commands)


def _add_apps(commands: argparse._SubParsersAction) -> None:
    summary = "register and manage the OpenID Connect clients of apps (add-client, list, ...)"
    parser = commands.add_parser(
        "apps",
        help=summary,
        description="Register and manage the OpenID Connect clients through which the apps"
        " of [apps] in admit.toml log people in. Each client's app must be one"
        f" of [apps] all; apps find admit's endpoints at ADMIT_BASE_URL{DISCOVERY_PATH}.",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    def action(name: str) -> argparse.ArgumentParser:
        text = ACTIONS[name]
        return actions.add_parser(name, help=text, description=f"{text[0].upper()}{text[1:]}.")

    add = action("add-client")
    add.add_argument(
        "app", metavar="APP", help="the app the client logs people in to: a name of [apps] all"
    )
    add.add_argument(
        "--redirect-uri",
        action="append",
        required=True,
        metavar="URI",
        help="where admit may send the browser back with a code; give it once per address"
        " (required). https://, or http:// on 127.0.0.1, [::1] or localhost; matched exactly",
    )
    add.add_argument(
        "--post-logout-redirect-uri",
        action="append",
        metavar="URI",
        help="where admit may send the browser after logging out; once per address (default: none)",
    )
    add.add_argument(
        "--public",
        action="store_true",
        help="a public client (a single-page or native app, which cannot keep a secret): no"
        " secret, PKCE required (default: confidential, with a secret)",
    )
    add.add_argument(
        "--skip-consent",
        action="store_true",
        help="do not ask people to allow the app (for the organisation's own apps;"
        " default: ask once per person)",
    )
    add.add_argument(
        "--algorithm",
        choices=["RS256", "ES256"],
        default="RS256",
        help="how the client's ID tokens are signed (default: %(default)s)",
    )
    add.add_argument(
        "--refresh-id-token",
        action="store_true",
        help="answer every refresh with a new ID token too, for apps that want one (kubelogin);"
        " default: a refresh answers with a new access and refresh token, and the app keeps the"
        " ID token of the log-in",
    )
    action("list")
    for name in ("show", "rotate-secret", "remove"):
        action(name).add_argument("client_id", help="the client's client_id (see `list`)")
    actions.choices["remove"].add_argument(
        "--yes",
        action="store_true",
        help="do not ask for confirmation (required without a terminal)",
    )
    for name in ("add-client", "list", "show", "rotate-secret"):
        actions.choices[name].add_argument(
            "--json", action="store_true", help="machine-readable output"
        )
    parser.set_defaults(func=run_apps, needs_django=True)


def _add_oidc(commands: argparse._SubParsersAction) -> None:
    summary = "manage admit's OpenID Connect provider (rotate-key)"
    parser = commands.add_parser(
        "oidc", help=summary, description="Manage admit's OpenID Connect provider."
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    text = (
        "put new keys in use for signing ID tokens; the old ones stay published for"
        " verification for two days, and keys retired longer ago are dropped"
    )
    actions.add_parser(
        "rotate-key",
        help=text,
        description=f"{text[0].upper()}{text[1:]}. With the keys in ADMIT_OIDC_KEY, admit"
        " writes none: change that variable instead.",
    )
    parser.set_defaults(func=run_oidc, needs_django=True)
