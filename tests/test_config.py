"""admit.toml and ADMIT_* are validated once, with errors that name the key."""

from __future__ import annotations

import tomllib

import pytest

from admit.config import DEFAULT_TOML, ConfigError, load_deployment, load_policy, parse_policy


def test_first_start_writes_the_defaults(tmp_path):
    path = tmp_path / "data" / "admit.toml"
    policy = load_policy(path)
    assert path.read_text() == DEFAULT_TOML.read_text()
    assert policy.signup.approval_required and not policy.signup.inform_if_email_exists
    assert policy.apps.all == ("CRM", "ERP")
    assert policy.user_validation.reject_username == ("zato", "admin", "root")
    assert (policy.password.min_length, policy.password.max_length) == (8, 256)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("[signup]\nenabled = 'yes'", "[signup] enabled must be true or false"),
        ("[signup]\nenabld = true", "unknown key [signup] enabld"),
        ("[signups]\nenabled = true", "unknown section [signups]"),
        ("[password]\nmin_length = -1", "[password] min_length must be a whole number"),
        ("[password]\nmin_length = 300", "min_length is greater than max_length"),
        (
            "[apps]\nall = ['CRM']\nsignup_allowed = ['ERP']",
            "[apps] signup_allowed names apps not in",
        ),
        ("[apps]\nall = 'CRM'", "[apps] all must be a list"),
        ("signup = 1", "[signup] must be a table"),
    ],
)
def test_bad_policy_names_the_key(document, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_policy(tomllib.loads(document))


def test_broken_toml_names_the_file(tmp_path):
    path = tmp_path / "admit.toml"
    path.write_text("[signup\n")
    with pytest.raises(ConfigError, match="admit.toml: not valid TOML"):
        load_policy(path)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ADMIT_DATABASE_URL": "mysql://x"}, "ADMIT_DATABASE_URL must start with"),
        ({"ADMIT_REDIS_URL": "http://x"}, "ADMIT_REDIS_URL must start with"),
        ({"ADMIT_SMTP_URL": "imap://x"}, "ADMIT_SMTP_URL must start with"),
        ({"ADMIT_BASE_URL": "ftp://x"}, "ADMIT_BASE_URL must start with"),
        ({"ADMIT_SECRET_KEY": "short"}, "ADMIT_SECRET_KEY must be at least 32"),
        ({"ADMIT_DEBUG": "maybe"}, "ADMIT_DEBUG must be true or false"),
    ],
)
def test_bad_deployment_names_the_variable(tmp_path, env, message):
    with pytest.raises(ConfigError, match=message):
        load_deployment({"ADMIT_DATA_DIR": str(tmp_path), **env})


def test_generated_secret_key_is_kept_private_and_stable(tmp_path):
    first = load_deployment({"ADMIT_DATA_DIR": str(tmp_path)})
    second = load_deployment({"ADMIT_DATA_DIR": str(tmp_path)})
    assert first.secret_key == second.secret_key and len(first.secret_key) >= 50
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_service_refuses_to_start_on_bad_config(tmp_path):
    import subprocess
    import sys

    (tmp_path / "admit.toml").write_text("[signup]\nenabled = 1\n")
    result = subprocess.run(
        [sys.executable, "-m", "admit.cli", "migrate"],
        env={"ADMIT_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "[signup] enabled must be true or false" in result.stderr


def test_login_metadata_allowed_defaults_to_every_app():
    policy = parse_policy({"apps": {"all": ["CRM", "ERP", "HR"], "login_allowed": ["CRM"]}})
    assert policy.apps.login_metadata_allowed == ("CRM", "ERP", "HR")
    given = parse_policy({"apps": {"login_metadata_allowed": ["ERP"]}})
    assert given.apps.login_metadata_allowed == ("ERP",)
    with pytest.raises(ConfigError, match="login_metadata_allowed"):
        parse_policy({"apps": {"login_metadata_allowed": ["HR"]}})


def test_password_about_to_expire_is_warn_or_refuse():
    assert parse_policy({}).password.about_to_expire == "warn"
    assert parse_policy({"password": {"about_to_expire": "refuse"}}).password.about_to_expire == (
        "refuse"
    )
    with pytest.raises(ConfigError, match="about_to_expire"):
        parse_policy({"password": {"about_to_expire": "maybe"}})
