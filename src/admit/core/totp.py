"""Time-based one-time passwords (RFC 6238: HMAC-SHA-1, 30-second steps, 6 digits).

SHA-1 because authenticator apps compute it whatever the otpauth URI says; HMAC-SHA-1 is not
weakened by SHA-1's collisions. A TOTP secret cannot be stored as a digest (admit must
compute codes from it), so it is stored encrypted with a key derived from ADMIT_SECRET_KEY:
a copy of the database alone hands out no second factor. Rotating ADMIT_SECRET_KEY
therefore means users enrol their TOTP again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from datetime import datetime
from urllib.parse import quote

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

STEP_SECONDS = 30
DIGITS = 6
ALLOWED_DRIFT = 1  # steps either side, for clocks a little apart
SECRET_BYTES = 20  # 160 bits, RFC 4226's recommendation


def new_secret() -> str:
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode().rstrip("=")


def _key_bytes(secret: str) -> bytes:
    """The key's bytes: its base32 (any case, spaces and padding ignored) read as authenticator
    apps read it, whole bytes only, the last bits of a length RFC 4648 would refuse dropped."""
    letters = secret.upper().replace(" ", "").rstrip("=")
    filled = letters + "A" * (-len(letters) % 8)  # "A" is five zero bits
    return base64.b32decode(filled)[: len(letters) * 5 // 8]


def is_valid_secret(secret: str) -> bool:
    try:
        return len(_key_bytes(secret)) >= 16
    except (ValueError, TypeError):
        return False


def code_at(secret: str, step: int) -> str:
    mac = hmac.new(_key_bytes(secret), struct.pack(">Q", step), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    number = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**DIGITS).zfill(DIGITS)


def step_of(moment: datetime) -> int:
    return int(moment.timestamp()) // STEP_SECONDS


def matching_step(
    secret: str, code: str, moment: datetime, last_used_step: int | None
) -> int | None:
    """The step ``code`` belongs to, if it is valid now and newer than the last one used.

    Refusing steps at or before the last used one makes every code single-use.
    """
    current = step_of(moment)
    found = None
    for step in range(current - ALLOWED_DRIFT, current + ALLOWED_DRIFT + 1):
        if hmac.compare_digest(code_at(secret, step), code) and found is None:
            found = step
    if found is None or (last_used_step is not None and found <= last_used_step):
        return None
    return found


def provisioning_uri(secret: str, label: str, issuer: str = "admit") -> str:
    account = f"{quote(issuer, safe='')}:{quote(label, safe='')}"
    return f"otpauth://totp/{account}?secret={secret}&issuer={quote(issuer, safe='')}"


def _fernet() -> Fernet:
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"admit totp secrets"
    ).derive(settings.SECRET_KEY.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def seal(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def unseal(sealed: str) -> str | None:
    """The secret, or None when it was sealed under another ADMIT_SECRET_KEY."""
    try:
        return _fernet().decrypt(sealed.encode()).decode()
    except InvalidToken:
        return None
