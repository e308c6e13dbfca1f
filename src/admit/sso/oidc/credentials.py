"""A client's credentials as a token, introspection or revocation request carries them
(RFC 6749 section 2.3.1): HTTP Basic (``client_secret_basic``) or the form
(``client_secret_post``), never both.

The view reads them for the rate limit and the audit row; the validator authenticates them
(``validator.Validator.authenticate_client``). Both read them here, the same way.
"""

from __future__ import annotations

import base64
import binascii
from typing import NamedTuple
from urllib.parse import unquote_plus


class Credentials(NamedTuple):
    client_id: str
    secret: str


def from_basic(header: str) -> Credentials | None:
    """The credentials of an ``Authorization: Basic`` header: the client id and secret, each
    form-encoded, joined by a colon, in base64 (without a colon, all of it is the client id and
    the secret is empty). None if the header is not Basic or does not decode (not base64, not
    UTF-8)."""
    scheme, _, encoded = header.partition(" ")
    if scheme != "Basic" or not encoded.isascii():
        return None
    try:
        decoded = base64.b64decode(encoded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, _, secret = decoded.partition(":")
    return Credentials(unquote_plus(client_id), unquote_plus(secret))
