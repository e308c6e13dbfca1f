"""admit's configuration: policy from ``admit.toml`` and deployment from ``ADMIT_*`` variables.

Both are read and validated once, when settings load; a bad value stops the start with a
``ConfigError`` that names the key. The policy object lands in ``settings.ADMIT_POLICY``.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import tomllib
import warnings
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

DEFAULT_TOML = Path(__file__).with_name("default.toml")


class ConfigError(Exception):
    pass


@dataclass(frozen=True)
class SignupPolicy:
    enabled: bool = True
    confirmation_required: bool = True
    approval_required: bool = True
    return_confirm_token: bool = True
    confirm_token_max_age: int = 172800
    send_welcome_email: bool = True
    send_rejection_email: bool = True
    inform_if_user_exists: bool = True
    inform_if_user_invalid: bool = True
    inform_if_email_exists: bool = False
    inform_if_email_invalid: bool = True
    inform_if_password_invalid: bool = True
    email_required: bool = True
    validation_hook: str = ""


@dataclass(frozen=True)
class AppsPolicy:
    all: tuple[str, ...] = ("CRM", "ERP")
    signup_allowed: tuple[str, ...] = ("CRM", "ERP")
    login_allowed: tuple[str, ...] = ("CRM", "ERP")
    # Apps whose log-ins may send remote_addr or user_agent (E006001 otherwise). Left out of
    # admit.toml, every app in ``all`` (see ``parse_policy``).
    login_metadata_allowed: tuple[str, ...] = ("CRM", "ERP")


@dataclass(frozen=True)
class UserValidationPolicy:
    reject_username: tuple[str, ...] = ("zato", "admin", "root")
    reject_email: tuple[str, ...] = ("zato", "admin", "root")
    username_max_length: int = 128
    email_max_length: int = 254


@dataclass(frozen=True)
class PasswordPolicy:
    min_length: int = 8
    max_length: int = 256
    expiry_days: int = 0
    warn_days: int = 7
    # A password within warn_days of its expiry: "warn" logs in with W003005, "refuse"
    # refuses the log-in with E003006 (Zato's inform_if_about_to_expire = false).
    about_to_expire: str = "warn"


@dataclass(frozen=True)
class SessionPolicy:
    expiry: int = 3600
    app_expiry: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class LoginPolicy:
    inform_if_locked: bool = True
    inform_if_not_confirmed: bool = True
    inform_if_not_approved: bool = True
    inform_if_password_expired: bool = True
    known_address_days: int = 90
    max_consecutive_failures: int = 100


@dataclass(frozen=True)
class RateLimitPolicy:
    enabled: bool = True
    login_failures_per_username_address: tuple[int, int] = (5, 300)
    login_failures_per_address: tuple[int, int] = (10, 60)
    login_failures_per_username: tuple[int, int] = (30, 300)
    signups_per_address: tuple[int, int] = (20, 60)
    emails_per_address: tuple[int, int] = (20, 60)
    resets_per_credential_address: tuple[int, int] = (3, 3600)
    reset_emails_per_credential: tuple[int, int] = (5, 3600)
    oidc_tokens_per_client: tuple[int, int] = (1200, 60)


@dataclass(frozen=True)
class OidcPolicy:
    access_token_lifetime: int = 300
    refresh_token_lifetime: int = 30 * 86400


@dataclass(frozen=True)
class ResetPolicy:
    token_max_age: int = 86400
    reset_key_max_age: int = 900


@dataclass(frozen=True)
class RemotePolicy:
    login_token_max_age: int = 7200
    portal_session_max_age: int = 7200
    confirmation_max_age: int = 86400
    tos_version: str = "1.0"
    tos_url: str = ""
    entry_point_path: str = "/self-hosted-billing/"
    link_requests_per_server: tuple[int, int] = (120, 60)
    confirmation_emails_per_address: tuple[int, int] = (5, 3600)
    confirmation_emails_per_server: tuple[int, int] = (50, 3600)
    # Zulip's ``POST /api/v1/remotes/server/register``: may a server nobody added register
    # itself? Off: an operator adds it first (``admit remote-servers add``).
    allow_self_registration: bool = False
    registrations_per_address: tuple[int, int] = (10, 3600)
    # Names a remote server may pass as next_page, and the path on admit's domain each means.
    next_pages: dict[str, str] = field(
        default_factory=lambda: {
            "overview": "/portal/",
            "account": "/portal/account/",
            "deactivate": "/portal/deactivate/",
            # The names a Zulip server sends: admit has no plans or billing of its own, so these
            # land on the overview until the operator maps them to an app of their own.
            "billing": "/portal/",
            "plans": "/portal/",
            "upgrade": "/portal/",
            "sponsorship": "/portal/",
        }
    )


@dataclass(frozen=True)
class UserPolicy:
    confirm_email_change: bool = True


@dataclass(frozen=True)
class Policy:
    signup: SignupPolicy = SignupPolicy()
    user: UserPolicy = UserPolicy()
    apps: AppsPolicy = AppsPolicy()
    user_validation: UserValidationPolicy = UserValidationPolicy()
    password: PasswordPolicy = PasswordPolicy()
    session: SessionPolicy = SessionPolicy()
    login: LoginPolicy = LoginPolicy()
    rate_limits: RateLimitPolicy = RateLimitPolicy()
    oidc: OidcPolicy = OidcPolicy()
    reset: ResetPolicy = ResetPolicy()
    remote: RemotePolicy = RemotePolicy()


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _coerce(where: str, annotation: str, value: Any) -> Any:
    """Check one value against its field's annotation (a string: see the __future__ import)."""
    if annotation == "bool":
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where} must be true or false, got {value!r}")
    if annotation == "int":
        if _is_count(value):
            return value
        raise ConfigError(f"{where} must be a whole number >= 0, got {value!r}")
    if annotation == "str":
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where} must be a string, got {value!r}")
    if annotation == "tuple[str, ...]":
        if isinstance(value, list) and all(isinstance(item, str) and item for item in value):
            return tuple(value)
        raise ConfigError(f"{where} must be a list of non-empty strings, got {value!r}")
    if annotation == "tuple[int, int]":
        if isinstance(value, list) and len(value) == 2 and all(_is_count(item) for item in value):
            return (value[0], value[1])
        raise ConfigError(f"{where} must be [count, seconds], got {value!r}")
    if annotation == "dict[str, str]":
        if isinstance(value, dict) and all(isinstance(item, str) for item in value.values()):
            return dict(value)
        raise ConfigError(f"{where} must be a table of names to strings, got {value!r}")
    if annotation == "dict[str, int]":
        if isinstance(value, dict) and all(_is_count(item) for item in value.values()):
            return dict(value)
        raise ConfigError(f"{where} must be a table of names to whole numbers, got {value!r}")
    raise ConfigError(f"{where}: unsupported setting type {annotation!r}")  # pragma: no cover


# Keys that earlier versions wrote into admit.toml and that mean nothing any more: a start
# with one of them warns (naming what replaced it) instead of refusing the whole file.
RETIRED_KEYS = {
    ("login", "lockout_after"): "[rate_limits] login_failures_per_username(_address)",
    ("login", "lockout_seconds"): "[rate_limits] login_failures_per_username(_address)",
    ("login", "lockout_max_seconds"): "[rate_limits] login_failures_per_username(_address)",
    ("rate_limits", "emails_per_account"): "[rate_limits] reset_emails_per_credential",
}


def _section(source: str, name: str, cls: type, raw: Any) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: [{name}] must be a table")
    known = {f.name: f for f in fields(cls)}
    for key in list(raw):
        if (name, key) in RETIRED_KEYS:
            warnings.warn(
                f"{source}: [{name}] {key} is no longer used (see {RETIRED_KEYS[name, key]});"
                " remove it",
                stacklevel=2,
            )
            raw = {k: v for k, v in raw.items() if k != key}
    for key in raw:
        if key not in known:
            raise ConfigError(f"{source}: unknown key [{name}] {key}")
    values = {
        key: _coerce(f"{source}: [{name}] {key}", str(known[key].type), value)
        for key, value in raw.items()
    }
    return cls(**values)


def parse_policy(document: dict[str, Any], source: str = "admit.toml") -> Policy:
    """The policy in ``document``; a ConfigError names ``source`` (the file's path) and the key."""
    sections = {f.name: f.type for f in fields(Policy)}
    for name in document:
        if name not in sections:
            raise ConfigError(f"{source}: unknown section [{name}]")
    classes = {f.name: type(getattr(Policy(), f.name)) for f in fields(Policy)}
    policy = Policy(
        **{name: _section(source, name, classes[name], document.get(name, {})) for name in classes}
    )
    apps_section = document.get("apps", {})
    if "login_metadata_allowed" not in apps_section:
        policy = replace(policy, apps=replace(policy.apps, login_metadata_allowed=policy.apps.all))
    _check_apps(policy.apps, source)
    # The operator's next_pages add to the built-in portal pages rather than replace them.
    built_in = RemotePolicy().next_pages
    policy = replace(
        policy, remote=replace(policy.remote, next_pages={**built_in, **policy.remote.next_pages})
    )
    _check_remote(policy.remote, source)
    unknown = set(policy.session.app_expiry) - set(policy.apps.all)
    if unknown:
        raise ConfigError(
            f"{source}: [session] app_expiry names apps not in [apps] all: {sorted(unknown)}"
        )
    if policy.password.about_to_expire not in ("warn", "refuse"):
        raise ConfigError(
            f'{source}: [password] about_to_expire must be "warn" or "refuse",'
            f" got {policy.password.about_to_expire!r}"
        )
    if policy.password.min_length > policy.password.max_length:
        raise ConfigError(f"{source}: [password] min_length is greater than max_length")
    if not 30 <= policy.oidc.access_token_lifetime <= 86400:
        # The signing keys stay published two days after a rotation (admit.sso.oidc.keys).
        raise ConfigError(f"{source}: [oidc] access_token_lifetime must be 30 to 86400 seconds")
    if policy.oidc.refresh_token_lifetime < policy.oidc.access_token_lifetime:
        raise ConfigError(
            f"{source}: [oidc] refresh_token_lifetime must be at least access_token_lifetime"
        )
    return policy


def _check_remote(remote: RemotePolicy, source: str) -> None:
    for name, path in remote.next_pages.items():
        # Paths on admit's own domain only: never a scheme, a host, or "//host".
        if not path.startswith("/") or path.startswith("//") or "\\" in path:
            raise ConfigError(
                f"{source}: [remote.next_pages] {name} must be a path starting with one /"
            )
    if not remote.tos_version.split(".")[0].isdigit():
        raise ConfigError(f"{source}: [remote] tos_version must start with a number, like 1.0")
    if not remote.entry_point_path.startswith("/"):
        raise ConfigError(f"{source}: [remote] entry_point_path must start with /")


def _check_apps(apps: AppsPolicy, source: str) -> None:
    for key in ("signup_allowed", "login_allowed", "login_metadata_allowed"):
        unknown = set(getattr(apps, key)) - set(apps.all)
        if unknown:
            raise ConfigError(
                f"{source}: [apps] {key} names apps not in [apps] all: {sorted(unknown)}"
            )


def load_policy(path: Path, create_missing: bool = True) -> Policy:
    """The policy in ``path``. A missing file is written with the defaults only where admit
    chose the place (``create_missing``: the data folder's admit.toml); a file that
    ``ADMIT_CONFIG`` names must exist, or a typo would run admit on the defaults unnoticed."""
    if not path.exists():
        if not create_missing:
            raise ConfigError(
                f"ADMIT_CONFIG names {path}, which does not exist; create it (the defaults are"
                f" in {DEFAULT_TOML}) or unset ADMIT_CONFIG to use the data folder's admit.toml"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(DEFAULT_TOML.read_text())
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read: {exc}") from exc
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    return parse_policy(document, str(path))


@dataclass(frozen=True)
class Deployment:
    data_dir: Path
    config_path: Path
    database_url: str
    redis_url: str
    secret_key: str
    smtp_url: str
    base_url: str
    debug: bool
    email_from: str
    # ADMIT_TRUSTED_PROXY: the reverse proxies whose X-Forwarded-For / -Proto admit believes.
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    # True when ADMIT_CONFIG named config_path: then the file must exist (see load_policy).
    config_named: bool = False


def _env_bool(env: dict[str, str], key: str, default: bool) -> bool:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{key} must be true or false, got {raw!r}")


def _secret_key(env: dict[str, str], data_dir: Path) -> str:
    """ADMIT_SECRET_KEY, or a key generated once and kept in the data folder (mode 0600)."""
    key = env.get("ADMIT_SECRET_KEY", "")
    if key:
        if len(key) < 32:
            raise ConfigError("ADMIT_SECRET_KEY must be at least 32 characters long")
        return key
    key_file = data_dir / "secret_key"
    if not key_file.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return key_file.read_text().strip()


def _check_url(key: str, value: str, schemes: tuple[str, ...]) -> str:
    if value and value.split("://", 1)[0] not in schemes:
        raise ConfigError(f"{key} must start with one of {', '.join(s + '://' for s in schemes)}")
    return value


def _trusted_proxies(
    env: dict[str, str],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """ADMIT_TRUSTED_PROXY: comma-separated IP addresses or CIDR networks (``10.0.0.0/8``)."""
    networks = []
    for entry in env.get("ADMIT_TRUSTED_PROXY", "").split(","):
        if not entry.strip():
            continue
        try:
            networks.append(ipaddress.ip_network(entry.strip()))
        except ValueError as exc:
            raise ConfigError(
                f"ADMIT_TRUSTED_PROXY: {entry.strip()!r} is not an IP address or network"
                f" like 10.0.0.5 or 10.0.0.0/8 ({exc})"
            ) from exc
    return tuple(networks)


def load_deployment(env: dict[str, str]) -> Deployment:
    data_dir = Path(env.get("ADMIT_DATA_DIR") or "data").resolve()
    base_url = env.get("ADMIT_BASE_URL", "http://127.0.0.1:11223").rstrip("/")
    _check_url("ADMIT_BASE_URL", base_url, ("http", "https"))
    config_named = bool(env.get("ADMIT_CONFIG"))
    return Deployment(
        data_dir=data_dir,
        config_path=Path(env["ADMIT_CONFIG"]).absolute()
        if config_named
        else data_dir / "admit.toml",
        config_named=config_named,
        database_url=_check_url(
            "ADMIT_DATABASE_URL",
            env.get("ADMIT_DATABASE_URL", ""),
            ("sqlite", "postgres", "postgresql", "pgsql"),
        ),
        redis_url=_check_url(
            "ADMIT_REDIS_URL", env.get("ADMIT_REDIS_URL", ""), ("redis", "rediss", "unix")
        ),
        secret_key=_secret_key(env, data_dir),
        smtp_url=_check_url("ADMIT_SMTP_URL", env.get("ADMIT_SMTP_URL", ""), ("smtp", "smtps")),
        base_url=base_url,
        debug=_env_bool(env, "ADMIT_DEBUG", False),
        email_from=env.get("ADMIT_EMAIL_FROM", "admit <noreply@localhost>"),
        trusted_proxies=_trusted_proxies(env),
    )
