"""Secrets handed to people and programs, and the public identifiers of the seed's shapes.

Every secret carries 128 bits from ``secrets`` behind a four-letter prefix (``zcnt…``,
``zust…``) and is stored only as its SHA-256 digest, so a copy of the database hands out
no live secret.
"""

from __future__ import annotations

import hashlib
import re
import secrets

SECRET_BYTES = 16  # 128 bits
_SECRET_SHAPE = re.compile(r"^[a-z]{4}[0-9a-f]{32}$")
_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def new_secret(prefix: str) -> str:
    return prefix + secrets.token_hex(SECRET_BYTES)


def is_secret_shaped(value: str, prefix: str) -> bool:
    return value.startswith(prefix) and _SECRET_SHAPE.match(value) is not None


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_public_id(prefix: str, length: int = 20) -> str:
    """An identifier like ``zusrqgh3au1pt4b7r5rz``: unguessable but not a secret."""
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def new_cid() -> str:
    """A correlation id for one request, like the seed's ``fc7c23028b15b35d72b8dffb``."""
    return secrets.token_hex(12)
