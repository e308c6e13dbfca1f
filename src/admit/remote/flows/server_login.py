"""The server-level log-in: a server's admin proves the server's uuid and key in a form
instead of following a realm's link."""

from __future__ import annotations

from admit.audit.log import audited
from admit.core.context import Caller
from admit.remote import tokens
from admit.remote.flows.links import check_next_page
from admit.remote.flows.registry import authenticate, set_deactivated


def server_login(server_uuid: str, key: str, next_page: str | None, caller: Caller) -> str:
    """A signed link for the server-level log-in; the e-mail comes next, and is confirmed."""
    with audited("remote.server_login", caller) as audit:
        server, _ = authenticate(server_uuid, key, audit)
        check_next_page(next_page)
        identity = tokens.new_identity(
            server_uuid=str(server.uuid),
            realm_uuid=None,
            user_uuid=None,
            email="",
            full_name="",
            uri_scheme="https://",
            next_page=next_page,
        )
        return tokens.url(identity)


def deactivate_server(server_uuid: str, admin_email: str, caller: Caller) -> None:
    """A confirmed server admin ends the server's registration: no more log-in links."""
    set_deactivated(server_uuid, True, caller, actor=admin_email)
