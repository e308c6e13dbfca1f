"""``admit remote-servers add|list|show|rotate-key|deactivate|reactivate``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from admit.remote.models import RemoteServer


def _describe(server: RemoteServer) -> dict[str, object]:
    return {
        "uuid": str(server.uuid),
        "hostname": server.hostname,
        "contact_email": server.contact_email,
        "registered_at": server.registered_at.isoformat(),
        "last_seen_at": server.last_seen_at.isoformat() if server.last_seen_at else None,
        "last_version": server.last_version,
        "deactivated": server.deactivated,
        "realms": server.realms.count(),
    }


def _print(data: object, as_json: bool) -> None:
    if as_json:
        print(json.dumps(data))
    elif isinstance(data, list):
        for row in data:
            _print(row, False)
    else:
        assert isinstance(data, dict)
        print("  ".join(f"{key}={value}" for key, value in data.items()))


def run(args: argparse.Namespace) -> None:
    # Imported here: the parser is built before Django is set up.
    from admit.core.context import Caller
    from admit.core.errors import AdmitError
    from admit.remote.flows import registry
    from admit.remote.models import RemoteServer

    caller = Caller()
    try:
        if args.action == "add":
            key = _key_from_stdin() if args.key_stdin else None
            made = registry.add_server(
                args.hostname, args.contact_email, caller, server_uuid=args.uuid, key=key
            )
            if key is not None:  # the server's own key: it has it, so it is not printed
                print(
                    json.dumps({"uuid": str(made.server.uuid)})
                    if args.json
                    else f"Registered {made.server.hostname} ({made.server.uuid})"
                    " with the key it gave."
                )
            elif args.json:
                print(json.dumps({"uuid": str(made.server.uuid), "key": made.key}))
            else:
                print(f"Registered {made.server.hostname}.")
                print(f"  uuid: {made.server.uuid}\n  key:  {made.key}")
                print("The key is shown only now: give it to the server's operator.")
        elif args.action == "list":
            _print(
                [_describe(server) for server in RemoteServer.objects.order_by("registered_at")],
                args.json,
            )
        elif args.action == "show":
            _print(_describe(registry.find_server(args.uuid)), args.json)
        elif args.action == "rotate-key":
            made = registry.rotate_key(args.uuid, caller)
            print(
                json.dumps({"uuid": str(made.server.uuid), "key": made.key})
                if args.json
                else f"new key: {made.key}"
            )
        else:
            server = registry.set_deactivated(args.uuid, args.action == "deactivate", caller)
            _print(_describe(server), args.json)
    except AdmitError as error:
        sys.exit(f"admit: {error.message}")


def _key_from_stdin() -> str:
    """The server's own key, read from standard input (never an argument: arguments show in
    the process list and the shell's history)."""
    if sys.stdin.isatty():
        print("The server's key (zulip_org_key), then Enter:", file=sys.stderr)
    return sys.stdin.readline().strip()


# What each action does: its line in ``admit remote-servers --help`` and its own --help.
ACTIONS = {
    "add": "register a server; prints its uuid and key once",
    "list": "every registered server, oldest first",
    "show": "one server: its hostname, contact, last contact and realms",
    "rotate-key": "give a server a new key (printed once); the old key stops working at once",
    "deactivate": "refuse the server's requests from now on (its key and realms are kept)",
    "reactivate": "accept a deactivated server's requests again",
}


def add_parser(commands: argparse._SubParsersAction) -> None:
    summary = "register and manage remote servers (add, list, show, rotate-key, ...)"
    parser = commands.add_parser(
        "remote-servers",
        help=summary,
        description="Register and manage the remote servers whose admins log in through"
        " admit's signed links (docs/remote.md).",
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    def action(name: str) -> argparse.ArgumentParser:
        text = ACTIONS[name]
        return actions.add_parser(name, help=text, description=f"{text[0].upper()}{text[1:]}.")

    add = action("add")
    add.add_argument(
        "--hostname", required=True, help="the server's host name, like chat.example.com"
    )
    add.add_argument("--contact-email", required=True, help="its operator's e-mail address")
    add.add_argument(
        "--uuid",
        help="the server's own id (a Zulip server's zulip_org_id); default: a new one",
    )
    add.add_argument(
        "--key-stdin",
        action="store_true",
        help="read the server's own key (a Zulip server's zulip_org_key) from standard input;"
        " default: admit makes a key and prints it once",
    )
    action("list")
    for name in ("show", "rotate-key", "deactivate", "reactivate"):
        action(name).add_argument("uuid", help="the server's uuid (see `list`)")
    for each in actions.choices.values():
        each.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=run, needs_django=True)
