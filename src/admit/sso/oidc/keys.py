"""The keys that sign ID tokens: one RSA key (RS256) and one P-256 key (ES256) in use, and the
keys they replaced while tokens signed with those may still be checked.

Where they live:

- ``ADMIT_OIDC_KEY``: one or more PEM private keys (an RSA key, and optionally a P-256 key for
  ES256). Nothing is written to disk; rotating means changing the variable.
- otherwise ``<data folder>/oidc_keys.json`` (mode 0600), generated on first use.
  ``admit oidc rotate-key`` adds a new pair and marks the old one retired; a retired key stays
  in the JWKS for ``RETIRED_KEY_GRACE`` (longer than any ID or access token lives, plus the
  time relying parties may cache the JWKS), then the next rotation drops it.

The file is read again when it changes, so running workers pick up a rotation without a restart.
Key generation and JWK handling are jwcrypto's and cryptography's; nothing here signs anything.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwcrypto import jwk

FILE_NAME = "oidc_keys.json"
ENV_VARIABLE = "ADMIT_OIDC_KEY"
# ID and access tokens live minutes ([oidc] in admit.toml, at most a day), and the JWKS may be
# cached for an hour: two days covers both with room to spare.
RETIRED_KEY_GRACE = timedelta(days=2)
ALGORITHMS = ("RS256", "ES256")
_PEM_BLOCK = re.compile(r"-----BEGIN [A-Z ]+-----.+?-----END [A-Z ]+-----", re.DOTALL)


class KeyProblem(Exception):
    """The keys cannot be read or made; the message says what to fix."""


@dataclass(frozen=True)
class Key:
    alg: str
    pem: str
    created: datetime
    retired_at: datetime | None = None

    @property
    def jwk(self) -> jwk.JWK:
        return _parsed(self.pem)[0]

    @property
    def kid(self) -> str:
        """The key's RFC 7638 thumbprint, which names it in the JWKS and in ID tokens' headers."""
        return _parsed(self.pem)[1]

    def public(self) -> dict:
        """The key as the JWKS shows it."""
        data = {"alg": self.alg, "use": "sig", "kid": self.kid}
        data.update(self.jwk.export_public(as_dict=True))
        return data


_cache_lock = threading.Lock()
# A PEM's JWK and kid, made once per process: parsing a key and hashing its thumbprint would
# otherwise be part of every ID token's cost.
_parsed_cache: dict[str, tuple[jwk.JWK, str]] = {}
_loaded: dict[str, object] = {"stamp": None, "keys": ()}


def _parsed(pem: str) -> tuple[jwk.JWK, str]:
    with _cache_lock:
        found = _parsed_cache.get(pem)
        if found is None:
            key = jwk.JWK.from_pem(pem.encode())
            found = _parsed_cache[pem] = (key, str(key.thumbprint()))
        return found


def _now() -> datetime:
    return datetime.now(UTC)


def _new_pem(alg: str) -> str:
    if alg == "RS256":
        private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = rsa.generate_private_key(
            public_exponent=65537, key_size=2048
        )
    else:
        private = ec.generate_private_key(ec.SECP256R1())
    return private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _alg_of(pem: str) -> str:
    try:
        private = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise KeyProblem(
            f"{ENV_VARIABLE}: not a PEM private key without a password ({exc})"
        ) from exc
    if isinstance(private, rsa.RSAPrivateKey):
        if private.key_size < 2048:
            raise KeyProblem(f"{ENV_VARIABLE}: the RSA key must have at least 2048 bits")
        return "RS256"
    if isinstance(private, ec.EllipticCurvePrivateKey) and isinstance(private.curve, ec.SECP256R1):
        return "ES256"
    raise KeyProblem(f"{ENV_VARIABLE}: only RSA and P-256 (prime256v1) keys can sign ID tokens")


def _from_environment(text: str) -> tuple[Key, ...]:
    blocks = _PEM_BLOCK.findall(text)
    keys = tuple(Key(_alg_of(block), block + "\n", _now()) for block in blocks)
    algs = [key.alg for key in keys]
    if "RS256" not in algs:
        raise KeyProblem(f"{ENV_VARIABLE} must hold an RSA private key (PEM)")
    if len(set(algs)) != len(algs):
        raise KeyProblem(
            f"{ENV_VARIABLE} holds two keys of one kind: give one RSA key and one P-256 key at most"
        )
    return keys


def _read(path: Path) -> tuple[Key, ...]:
    try:
        document = json.loads(path.read_text())
        return tuple(
            Key(
                alg=entry["alg"],
                pem=entry["pem"],
                created=datetime.fromisoformat(entry["created"]),
                retired_at=datetime.fromisoformat(entry["retired_at"])
                if entry.get("retired_at")
                else None,
            )
            for entry in document["keys"]
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise KeyProblem(f"{path}: cannot read the signing keys ({exc})") from exc


def _write(path: Path, keys: tuple[Key, ...]) -> None:
    document = {
        "keys": [
            {
                "alg": key.alg,
                "pem": key.pem,
                "created": key.created.isoformat(),
                "retired_at": key.retired_at.isoformat() if key.retired_at else None,
            }
            for key in keys
        ]
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".oidc_keys.")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(document, handle, indent=1)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _fresh_pair() -> tuple[Key, ...]:
    return tuple(Key(alg, _new_pem(alg), _now()) for alg in ALGORITHMS)


def key_file() -> Path:
    from django.conf import settings

    return Path(settings.ADMIT_DATA_DIR) / FILE_NAME


def from_environment() -> bool:
    return bool(os.environ.get(ENV_VARIABLE, "").strip())


def all_keys() -> tuple[Key, ...]:
    """Every key: those in use and those retired, newest first."""
    text = os.environ.get(ENV_VARIABLE, "").strip()
    if text:
        stamp: object = ("env", text)
    else:
        path = key_file()
        try:
            stat = path.stat()
        except FileNotFoundError:
            _create(path)
            stat = path.stat()
        stamp = (str(path), stat.st_mtime_ns, stat.st_size)
    with _cache_lock:
        if _loaded["stamp"] == stamp:
            return _loaded["keys"]  # type: ignore[return-value]
    keys = _from_environment(text) if text else _read(key_file())
    keys = tuple(sorted(keys, key=lambda key: key.created, reverse=True))
    with _cache_lock:
        _loaded["stamp"], _loaded["keys"] = stamp, keys
    return keys


def _create(path: Path) -> None:
    """The first pair, made once: of two workers starting together, one writes, both read it."""
    keys = _fresh_pair()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".oidc_keys.")
    os.close(fd)
    _write(Path(temporary), keys)
    try:
        os.link(temporary, path)  # fails if another process made the file first
    except FileExistsError:
        pass
    finally:
        Path(temporary).unlink(missing_ok=True)


def signing_key(alg: str) -> jwk.JWK:
    return signing(alg).jwk


def signing(alg: str) -> Key:
    """The key in use for ``alg``."""
    for key in all_keys():
        if key.alg == alg and key.retired_at is None:
            return key
    raise KeyProblem(f"no {alg} signing key: add a P-256 key to {ENV_VARIABLE} to sign with {alg}")


def algorithms() -> list[str]:
    return [alg for alg in ALGORITHMS if any(k.alg == alg and not k.retired_at for k in all_keys())]


def _published_keys() -> list[Key]:
    """Keys in use, and retired keys still within their grace period."""
    cutoff = _now() - RETIRED_KEY_GRACE
    return [key for key in all_keys() if key.retired_at is None or key.retired_at > cutoff]


def published() -> list[dict]:
    """The JWKS."""
    return [key.public() for key in _published_keys()]


def verification_set() -> jwk.JWKSet:
    """The JWKS's public keys, as jwcrypto checks a signature with them (by ``kid``)."""
    keyset = jwk.JWKSet()
    for key in _published_keys():
        keyset.add(jwk.JWK(**key.public()))
    return keyset


def rotate() -> tuple[list[str], list[str]]:
    """A new pair in use; the old pair retired; keys retired past their grace dropped.
    Returns the new key ids and the dropped ones."""
    if from_environment():
        raise KeyProblem(
            f"the keys come from {ENV_VARIABLE}: put the new key there and restart admit"
        )
    path = key_file()
    old = all_keys()
    now = _now()
    cutoff = now - RETIRED_KEY_GRACE
    kept = tuple(
        Key(key.alg, key.pem, key.created, key.retired_at or now)
        for key in old
        if key.retired_at is None or key.retired_at > cutoff
    )
    dropped = [key.kid for key in old if key.retired_at is not None and key.retired_at <= cutoff]
    fresh = _fresh_pair()
    _write(path, fresh + kept)
    return [key.kid for key in fresh], dropped
