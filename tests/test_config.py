"""admit.toml and ADMIT_* are validated once, with errors that name the key."""

from __future__ import annotations

import os
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
        env={**_environment(), "ADMIT_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr == (
        f"admit: configuration error: {tmp_path / 'admit.toml'}: [signup] enabled must be"
        " true or false, got 1\n"
    )


def _environment() -> dict[str, str]:
    """This process's environment (PATH, PYTHONPATH) without its ADMIT_* variables."""
    return {key: value for key, value in os.environ.items() if not key.startswith("ADMIT_")}


def _admit(tmp_path, *args: str, **env: str):
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "admit.cli", *args],
        env={**_environment(), "ADMIT_DATA_DIR": str(tmp_path / "data"), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_errors_name_the_file_admit_config_names(tmp_path):
    named = tmp_path / "policies" / "sso.toml"
    named.parent.mkdir()
    named.write_text("[signup]\nenabld = true\n")
    with pytest.raises(ConfigError) as refused:
        load_policy(named, create_missing=False)
    assert str(refused.value) == f"{named}: unknown key [signup] enabld"

    result = _admit(tmp_path, "migrate", ADMIT_CONFIG=str(named))
    assert result.returncode == 2
    assert result.stderr == f"admit: configuration error: {named}: unknown key [signup] enabld\n"
    assert not (tmp_path / "data" / "admit.toml").exists()  # the named file was the one read


def test_a_missing_admit_config_file_is_an_error_not_the_defaults(tmp_path):
    missing = tmp_path / "typo.toml"
    deployment = load_deployment({"ADMIT_DATA_DIR": str(tmp_path), "ADMIT_CONFIG": str(missing)})
    assert deployment.config_path == missing and deployment.config_named
    with pytest.raises(ConfigError, match="ADMIT_CONFIG names .*typo.toml, which does not exist"):
        load_policy(deployment.config_path, create_missing=False)

    result = _admit(tmp_path, "migrate", ADMIT_CONFIG=str(missing))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines == [
        f"admit: configuration error: ADMIT_CONFIG names {missing}, which does not exist;"
        f" create it (the defaults are in {DEFAULT_TOML}) or unset ADMIT_CONFIG to use the"
        " data folder's admit.toml"
    ]
    assert not missing.exists()


def test_only_the_default_place_is_written_with_the_defaults(tmp_path):
    deployment = load_deployment({"ADMIT_DATA_DIR": str(tmp_path)})
    assert deployment.config_path == tmp_path / "admit.toml" and not deployment.config_named
    load_policy(deployment.config_path, create_missing=not deployment.config_named)
    assert deployment.config_path.read_text() == DEFAULT_TOML.read_text()


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
