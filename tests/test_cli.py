"""The ``admit`` command as an operator meets it in the first hour: its help, its version,
``createsuperuser`` with and without a terminal, and its one-line errors (never a traceback).

Commands that need the test database run through ``admit.cli.main`` in the test process; the
ones that must not need a database, or that test what a fresh process prints, run as
``python -m admit.cli``. ``admit serve``'s banner and a taken port: tests/live/test_first_start.py.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import subprocess
import sys
from importlib import metadata

import pytest

from admit.cli import build_parser, main
from admit.sso.models import User
from tests.conftest import GOOD_PASSWORD
from tests.live.conftest import free_port

ADMIT = [sys.executable, "-m", "admit.cli"]


def run(*args: str, **env: str) -> subprocess.CompletedProcess:
    """``admit ARGS`` in a fresh process without a terminal, with only ``env`` of ADMIT_*."""
    base = {key: value for key, value in os.environ.items() if not key.startswith("ADMIT_")}
    return subprocess.run(
        [*ADMIT, *args],
        env={**base, **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("admit: "), result.stderr
    return lines[0]


# --- help and version ----------------------------------------------------------------------


def test_version_prints_the_installed_package_version(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"admit {metadata.version('admit')}\n"


def _help(capsys, *args: str) -> str:
    with pytest.raises(SystemExit) as exited:
        main([*args, "--help"])
    assert exited.value.code == 0
    return capsys.readouterr().out


def test_top_level_help_is_plain_text_and_lists_every_command(capsys):
    text = _help(capsys)
    assert "``" not in text and "First steps: `admit migrate`" in text
    for name, summary in [
        ("serve", "run the service (gunicorn) and an e-mail worker"),
        ("worker", "deliver queued e-mail"),
        ("migrate", "create or update the database tables"),
        ("createsuperuser", "make a super-user"),
        ("remote-servers", "register and manage remote servers"),
        ("apps", "register and manage the OpenID Connect clients of apps"),
        ("oidc", "manage admit's OpenID Connect provider (rotate-key)"),
        ("manage", "run a Django management command"),
    ]:
        assert name in text and summary in text
    assert "--version" in text


def test_serve_help_shows_what_bind_and_workers_take_and_their_defaults(capsys, monkeypatch):
    monkeypatch.delenv("ADMIT_BIND", raising=False)
    monkeypatch.setenv("ADMIT_WORKERS", "3")
    text = " ".join(_help(capsys, "serve").split())  # argparse wraps lines where it likes
    assert "HOST:PORT, [IPv6]:PORT or unix:PATH to listen on (default: 127.0.0.1:11223;" in text
    assert "web worker processes (default: 3; ADMIT_WORKERS sets the default" in text


def test_remote_servers_help_describes_all_six_actions(capsys):
    text = " ".join(_help(capsys, "remote-servers").split())
    for name, description in [
        ("add", "register a server; prints its uuid and key once"),
        ("list", "every registered server"),
        ("show", "one server: its hostname"),
        ("rotate-key", "give a server a new key"),
        ("deactivate", "refuse the server's requests from now on"),
        ("reactivate", "accept a deactivated server's requests again"),
    ]:
        assert f"{name} {description}" in text


def test_apps_help_describes_every_action_and_add_client_its_defaults(capsys):
    text = " ".join(_help(capsys, "apps").split())
    for name in ("add-client", "list", "show", "rotate-secret", "remove"):
        assert f" {name} " in text
    text = " ".join(_help(capsys, "apps", "add-client").split())
    assert "--redirect-uri URI where admit may send the browser back" in text
    assert "how the client's ID tokens are signed (default: RS256)" in text
    assert "(default: confidential, with a secret)" in text
    text = " ".join(_help(capsys, "apps", "remove").split())
    assert "--yes do not ask for confirmation (required without a terminal)" in text


def test_createsuperuser_help_names_the_password_variable_and_the_flags(capsys):
    text = " ".join(_help(capsys, "createsuperuser").split())
    assert "ADMIT_SUPERUSER_PASSWORD" in text
    assert "--username USERNAME the super-user's username" in text
    assert "--email EMAIL the super-user's e-mail address" in text


def _parsers(parser: argparse.ArgumentParser, path: str = "admit"):
    yield path, parser
    for action in parser._actions:  # argparse has no public way to walk its sub-parsers
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{path} {name}")


def test_every_command_and_option_has_help():
    missing = []
    for path, parser in _parsers(build_parser()):
        if not parser.description:
            missing.append(f"{path}: description")
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                missing += [
                    f"{path} {choice.dest}" for choice in action._choices_actions if not choice.help
                ]
            elif not action.help or action.help == argparse.SUPPRESS:
                missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    assert missing == []


# --- createsuperuser without a terminal ----------------------------------------------------


@pytest.mark.parametrize(
    ("args", "password", "named"),
    [
        (["--username", "boss"], GOOD_PASSWORD, ["--email"]),
        ([], GOOD_PASSWORD, ["--username", "--email"]),
        (["--username", "boss", "--email", "b@example.com"], "", ["ADMIT_SUPERUSER_PASSWORD"]),
    ],
)
def test_without_a_terminal_a_missing_value_is_one_line_naming_where_to_give_it(
    tmp_path, args, password, named
):
    env = {"ADMIT_DATA_DIR": str(tmp_path)}
    if password:
        env["ADMIT_SUPERUSER_PASSWORD"] = password
    result = run("createsuperuser", *args, **env)
    assert result.returncode == 2
    line = one_line_error(result)
    assert "no terminal" in line and all(name in line for name in named)
    if password:
        assert "ADMIT_SUPERUSER_PASSWORD" not in line.split("give ")[1].split(" (")[0]


@pytest.mark.django_db
def test_without_a_terminal_a_refused_password_is_told_in_words(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    monkeypatch.setenv("ADMIT_SUPERUSER_PASSWORD", "Zq7!x")
    with pytest.raises(SystemExit) as exited:
        main(["createsuperuser", "--username", "boss", "--email", "boss@example.com"])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err == (
        "admit: refused (from ADMIT_SUPERUSER_PASSWORD): This password is too short:"
        " use at least 8 characters.\n"
    )
    assert "Zq7!x" not in err
    assert not User.objects.exists()


@pytest.mark.django_db
def test_without_a_terminal_all_values_given_make_the_superuser(capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    monkeypatch.setenv("ADMIT_SUPERUSER_PASSWORD", GOOD_PASSWORD)
    main(["createsuperuser", "--username", "boss", "--email", "boss@example.com"])
    user = User.objects.get()
    assert user.is_superuser and user.check_password(GOOD_PASSWORD)
    assert capsys.readouterr().out == f"Super-user boss created ({user.user_id}).\n"


@pytest.mark.django_db
def test_a_command_run_in_a_django_process_leaves_its_logging_alone(capsys, monkeypatch):
    """In a process where Django is set up already (the test suite), a command does not
    configure logging again: its handler would write to this test's captured stderr, closed
    once the test ends, and every later log line would be a "Logging error"."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    monkeypatch.setenv("ADMIT_SUPERUSER_PASSWORD", GOOD_PASSWORD)
    before = list(logging.getLogger().handlers)
    main(["createsuperuser", "--username", "boss", "--email", "boss@example.com"])
    assert logging.getLogger().handlers == before
    streams = [getattr(handler, "stream", None) for handler in logging.getLogger().handlers]
    assert sys.stderr not in streams


# --- createsuperuser in a terminal ---------------------------------------------------------


class Terminal:
    """stdin that is a terminal, with the answers typed into input() and getpass()."""

    def __init__(self, monkeypatch, answers: list[str], passwords: list[str]):
        self.answers, self.passwords = list(answers), list(passwords)
        stdin = io.StringIO("")
        stdin.isatty = lambda: True  # type: ignore[method-assign]
        monkeypatch.setattr(sys, "stdin", stdin)
        monkeypatch.setattr("builtins.input", self.input)
        monkeypatch.setattr("getpass.getpass", self.getpass)
        monkeypatch.delenv("ADMIT_SUPERUSER_PASSWORD", raising=False)
        self.prompts: list[str] = []

    def input(self, prompt: str = "") -> str:
        self.prompts.append(prompt)
        if not self.answers:
            raise EOFError
        return self.answers.pop(0)

    def getpass(self, prompt: str = "Password: ") -> str:
        self.prompts.append(prompt)
        if not self.passwords:
            raise EOFError
        return self.passwords.pop(0)


@pytest.mark.django_db
def test_a_refused_password_is_explained_and_asked_again(capsys, monkeypatch):
    terminal = Terminal(
        monkeypatch,
        answers=["boss", "boss@example.com"],
        passwords=["short", "short", "password", "password", "A-Good-One-77", "typo"]
        + [GOOD_PASSWORD, GOOD_PASSWORD],
    )
    main(["createsuperuser"])
    err = capsys.readouterr().err
    assert "This password is too short: use at least 8 characters." in err
    assert "This password is one of the most common ones." in err
    assert "The two passwords differ. Try again." in err
    assert "E003" not in err and "Traceback" not in err
    assert terminal.prompts.count("Password: ") == 4 and terminal.prompts.count("Username: ") == 1
    user = User.objects.get()
    assert (user.username, user.email) == ("boss", "boss@example.com")
    assert user.is_superuser and user.check_password(GOOD_PASSWORD)


@pytest.mark.django_db
def test_a_taken_username_is_asked_again_and_the_rest_kept(capsys, monkeypatch):
    monkeypatch.setenv("ADMIT_SUPERUSER_PASSWORD", GOOD_PASSWORD)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    main(["createsuperuser", "--username", "boss", "--email", "boss@example.com"])
    terminal = Terminal(
        monkeypatch,
        answers=["boss", "chief@example.com", "", "chief"],
        passwords=[GOOD_PASSWORD, GOOD_PASSWORD],
    )
    main(["createsuperuser"])
    err = capsys.readouterr().err
    assert "This username is taken. Choose another one." in err
    assert "An answer is needed." in err  # the empty answer is asked again too
    assert terminal.prompts == [
        "Username: ", "E-mail address: ", "Password: ", "Password (again): ",
        "Username: ", "Username: ",
    ]  # fmt: skip
    chief = User.objects.get(username="chief")
    assert chief.email == "chief@example.com" and chief.check_password(GOOD_PASSWORD)


@pytest.mark.django_db
def test_a_value_given_as_a_flag_is_not_asked_for_again(capsys, monkeypatch):
    Terminal(monkeypatch, answers=[], passwords=[GOOD_PASSWORD, GOOD_PASSWORD])
    with pytest.raises(SystemExit) as exited:
        main(["createsuperuser", "--username", "the boss", "--email", "boss@example.com"])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err == "admit: refused (from --username): A username cannot contain spaces.\n"
    assert not User.objects.exists()


@pytest.mark.django_db
def test_input_ending_at_a_prompt_is_one_line_not_a_traceback(capsys, monkeypatch):
    Terminal(monkeypatch, answers=["boss"], passwords=[])
    with pytest.raises(SystemExit) as exited:
        main(["createsuperuser"])
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert (
        err.strip()
        == "admit: createsuperuser stopped: the input ended before every answer was given"
    )
    assert not User.objects.exists()


# --- errors from a fresh process -----------------------------------------------------------


def test_an_unreachable_database_is_one_line_not_a_traceback(tmp_path):
    closed = f"postgres://admit:not-this-secret@127.0.0.1:{free_port()}/admit"
    result = run("migrate", ADMIT_DATA_DIR=str(tmp_path), ADMIT_DATABASE_URL=closed)
    assert result.returncode == 1
    line = one_line_error(result)
    assert line.startswith("admit: database error: ") and "Connection refused" in line
    assert "not-this-secret" not in line


def test_a_bad_bind_address_is_a_usage_error(tmp_path):
    migrated = run("migrate", "--verbosity", "0", ADMIT_DATA_DIR=str(tmp_path))
    assert migrated.returncode == 0, migrated.stderr
    result = run("serve", "--bind", "localhost", "--no-worker", ADMIT_DATA_DIR=str(tmp_path))
    assert result.returncode == 2
    assert "is not HOST:PORT" in one_line_error(result)


def test_a_bad_workers_count_names_the_option(tmp_path):
    result = run("serve", ADMIT_DATA_DIR=str(tmp_path), ADMIT_WORKERS="many")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "--workers: must be a whole number of at least 1, got 'many'" in result.stderr
