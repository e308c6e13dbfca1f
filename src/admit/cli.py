"""The admit command: serve, worker, migrate, createsuperuser, remote-servers, apps, oidc,
manage.

Exit codes: 0 done; 1 refused or failed (a value the rules refuse, the database out of reach,
the address taken); 2 a usage or configuration error (a bad option, a missing value, a bad
admit.toml or ADMIT_* variable). Every failure is one line on stderr that starts with
``admit:``, never a traceback.
"""

from __future__ import annotations

import argparse
import errno
import getpass
import os
import signal
import socket
import stat
import subprocess
import sys
import textwrap
import time
from importlib import metadata
from typing import NoReturn

SERVICE_ADDRESS = "127.0.0.1:11223"
PASSWORD_VARIABLE = "ADMIT_SUPERUSER_PASSWORD"

DESCRIPTION = """\
admit: sign-up, confirmation, approval and log-in for one organisation's applications
(Zato's SSO API) and for the admins of remote servers.

First steps: `admit migrate`, then `admit createsuperuser`, then `admit serve`.
Configuration comes from admit.toml (in ADMIT_DATA_DIR, or the file ADMIT_CONFIG names) and
the ADMIT_* environment variables: see docs/operators.md.
"""


def fail(message: str, exit_code: int = 1) -> NoReturn:
    """One line on stderr and the exit: what went wrong and, where it helps, what to do."""
    print(f"admit: {message}", file=sys.stderr, flush=True)
    sys.exit(exit_code)


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "admit.settings")
    import django
    from django.apps import apps

    from admit.config import ConfigError

    if apps.ready:
        # Set up already (a caller in a process that runs Django, such as the test suite).
        # django.setup() would configure logging again, binding its handler to whatever
        # sys.stderr is at this moment, which such a caller may close afterwards.
        return
    try:
        django.setup()
    except ConfigError as exc:
        fail(f"configuration error: {exc}", 2)


def migrate(args: argparse.Namespace) -> None:
    _django()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=args.verbosity)
    call_command("createcachetable", verbosity=args.verbosity)


# createsuperuser's three values: how to ask for each, and where a run without a terminal
# must find it.
_QUESTIONS = {"username": "Username: ", "email": "E-mail address: ", "password": "Password: "}
_SOURCES = {"username": "--username", "email": "--email", "password": PASSWORD_VARIABLE}
# Which value a refusal's code is about (admit.core.errors.Code: E001 username, E002 e-mail,
# E003 password).
_FIELD_OF_CODE = {"E001": "username", "E002": "email", "E003": "password"}


def createsuperuser(args: argparse.Namespace) -> None:
    """Make a super-user: from --username, --email and ADMIT_SUPERUSER_PASSWORD, asking in the
    terminal for whatever is missing and again for whatever the rules refuse."""
    given = {
        "username": (args.username or "").strip(),
        "email": (args.email or "").strip(),
        "password": os.environ.get(PASSWORD_VARIABLE, ""),
    }
    asking = sys.stdin.isatty()
    missing = [_SOURCES[field] for field, value in given.items() if not value]
    if missing and not asking:
        fail(
            f"createsuperuser has no terminal to ask on: give {' and '.join(missing)}"
            " (the password in the environment variable, never on the command line)",
            2,
        )
    _django()
    from admit.core.context import Caller
    from admit.core.errors import AdmitError
    from admit.sso.flows.users import create_superuser
    from admit.sso.page_copy import sentence

    values = dict(given)
    while True:
        for field in _QUESTIONS:
            while not values[field]:
                values[field] = _ask(field)
        try:
            user = create_superuser(
                values["username"], values["email"], values["password"], Caller()
            )
            break
        except AdmitError as exc:
            refused = {_FIELD_OF_CODE.get(code[:4], "") for code in exc.codes}
            reasons = [
                sentence(code) if code[:4] in _FIELD_OF_CODE else exc.message for code in exc.codes
            ]
            text = " ".join(dict.fromkeys(reasons))
            # A value from a flag or the environment would be refused again: it is the
            # caller's to change. Only what was asked for in the terminal is asked again.
            fixed = sorted(_SOURCES[field] for field in refused if field and given[field])
            if fixed or "" in refused or not asking:
                where = f" (from {', '.join(fixed)})" if fixed else ""
                fail(f"refused{where}: {text}")
            print(text, file=sys.stderr, flush=True)
            for field in refused:
                values[field] = ""
    print(f"Super-user {user.username} created ({user.user_id}).")


def _ask(field: str) -> str:
    """One answer from the terminal; the password twice, without echo."""
    try:
        if field != "password":
            answer = input(_QUESTIONS[field]).strip()
            if not answer:
                print("An answer is needed.", file=sys.stderr)
            return answer
        password = getpass.getpass(_QUESTIONS[field])
        if not password:
            print("A password is needed.", file=sys.stderr)
            return ""
        if password != getpass.getpass("Password (again): "):
            print("The two passwords differ. Try again.", file=sys.stderr)
            return ""
        return password
    except EOFError:
        print(file=sys.stderr)
        fail("createsuperuser stopped: the input ended before every answer was given")


def worker(args: argparse.Namespace) -> None:
    _django()
    from admit.worker import run

    if not run(poll_seconds=args.poll, once=args.once) and args.once:
        sys.exit(1)  # what went wrong is in the log already


def serve(args: argparse.Namespace) -> None:
    """gunicorn with one sync worker per core, plus an e-mail worker unless --no-worker."""
    _django()
    from django.conf import settings
    from django.db import connection

    superusers = _check_the_database()
    _check_signing_keys()
    connection.close()  # gunicorn forks this process: each worker opens its own
    # admit binds the address itself and hands the socket to gunicorn: a taken port is said
    # once, plainly, before anything starts (gunicorn would retry five times, then exit), and
    # "serving on" below is only printed once it is true.
    listener, address = _listen(args.bind)
    gunicorn = [
        sys.executable, "-m", "gunicorn", "admit.wsgi:application",
        "--bind", f"fd://{listener.fileno()}",
        "--workers", str(args.workers),
        "--worker-class", "sync",
        "--preload",
        "--no-control-socket",
        "--timeout", "30",
        # gunicorn's maximum: request lines up to here reach admit, which refuses an API
        # call's query string over 4096 bytes with its JSON envelope (admit.http.proxy).
        "--limit-request-line", "8190",
        # gunicorn takes X-Forwarded-Proto from the same proxies as admit, and from no one
        # else (its default trusts 127.0.0.1 whether or not a proxy runs there).
        "--forwarded-allow-ips",
        ",".join(str(network) for network in settings.ADMIT_TRUSTED_PROXIES),
    ]  # fmt: skip
    if args.access_log:  # without a log file gunicorn skips building each line altogether
        gunicorn += [
            "--access-logfile",
            "-",
            "--access-logformat",
            '%(h)s "%(m)s %(U)s" %(s)s %(M)sms',
        ]
    # Without ADMIT_BASE_URL, the links admit makes (e-mails, log-in links) name the address
    # it serves on, not the default port: `serve --bind 127.0.0.1:8080` then just works.
    env = dict(os.environ)
    if not env.get("ADMIT_BASE_URL") and address.startswith("http"):
        env["ADMIT_BASE_URL"] = _public_base(address)
    children = [subprocess.Popen(gunicorn, pass_fds=[listener.fileno()], env=env)]
    listener.close()  # gunicorn holds it now
    if args.worker:
        worker = [sys.executable, "-m", "admit.cli", "worker"]
        children.append(subprocess.Popen(worker, env=env))
    print(banner(address, args.workers, superusers), flush=True)
    _supervise(children)


def banner(address: str, workers: int, superusers: bool | None) -> str:
    """What ``admit serve`` says once it listens. ``superusers``: whether one exists (None:
    the database could not tell)."""
    from django.conf import settings

    # The addresses people open: ADMIT_BASE_URL when the operator set it (a proxy's, say),
    # else the address admit listens on.
    if os.environ.get("ADMIT_BASE_URL") or not address.startswith("http"):
        base = settings.ADMIT_BASE_URL
    else:
        base = _public_base(address)
    lines = [
        f"admit is serving on {address} with {workers} worker{'s' if workers != 1 else ''}"
        f" (data in {settings.ADMIT_DATA_DIR})."
    ]
    if superusers is False:
        lines.append(f"No super-user yet: create the first with  {_command()} createsuperuser")
        lines.append(f"Super-users then approve sign-ups at {base}/console/")
    else:
        lines.append(f"Super-users approve sign-ups at {base}/console/")
    lines.append(f"API documentation: {base}/api/docs")
    return "\n".join(lines)


def _public_base(address: str) -> str:
    """The address people open for one admit listens on (a wildcard host as the loopback)."""
    return address.replace("//0.0.0.0:", "//127.0.0.1:").replace("//[::]:", "//[::1]:")


def _command() -> str:
    """How the operator started admit, to repeat in advice: ``.venv/bin/admit`` or ``admit``."""
    program = sys.argv[0] if sys.argv else ""
    if os.path.basename(program) != "admit":
        return "admit"
    relative = os.path.relpath(program)
    return program if relative.startswith("..") else relative


def _listen(bind: str) -> tuple[socket.socket, str]:
    """A listening socket on ``bind`` (HOST:PORT, [IPv6]:PORT or unix:PATH) and the address
    to show; a one-line error and exit when it cannot be had."""
    if bind.startswith("unix:"):
        return _listen_unix(bind.removeprefix("unix:")), bind
    host, colon, port = bind.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not colon or not port.isdigit() or int(port) > 65535:
        fail(f"--bind {bind!r} is not HOST:PORT (127.0.0.1:11223), [IPv6]:PORT or unix:PATH", 2)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    # As gunicorn does: rebinding over connections in TIME_WAIT is fine; a listener is not.
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, int(port)))
        listener.listen(2048)
    except socket.gaierror as exc:
        listener.close()
        fail(f"cannot serve on {bind}: {host!r} is not a known host name ({exc.strerror})")
    except OSError as exc:
        listener.close()
        _cannot_listen(bind, exc)
    bound_port = listener.getsockname()[1]
    # An empty host listens on every interface, shown as such.
    shown = f"[{host}]" if family == socket.AF_INET6 else host or "0.0.0.0"  # noqa: S104
    return listener, f"http://{shown}:{bound_port}"


def _listen_unix(path: str) -> socket.socket:
    if os.path.exists(path):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(path)
            except OSError:
                if stat.S_ISSOCK(os.stat(path).st_mode):
                    os.unlink(path)  # left behind by an admit that stopped
            else:
                _cannot_listen(f"unix:{path}", OSError(errno.EADDRINUSE, "in use"))
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(path)
        listener.listen(2048)
    except OSError as exc:
        listener.close()
        _cannot_listen(f"unix:{path}", exc)
    return listener


def _cannot_listen(bind: str, error: OSError) -> NoReturn:
    if error.errno == errno.EADDRINUSE:
        fail(
            f"cannot serve on {bind}: the address is taken; another program (perhaps another"
            " admit serve) is listening there. Stop it, or choose another address with --bind"
            " or ADMIT_BIND"
        )
    if error.errno == errno.EACCES:
        fail(f"cannot serve on {bind}: not allowed (ports below 1024 need extra rights)")
    if error.errno == errno.EADDRNOTAVAIL:
        fail(f"cannot serve on {bind}: this machine has no such address")
    fail(f"cannot serve on {bind}: {error.strerror or error}")


def _check_the_database() -> bool | None:
    """Refuse to start on a database without this admit's migrations (code newer than its
    tables would fail requests one by one), and tell whether a super-user exists (None when the
    database cannot be reached: that is not refused, the workers answer 503 until it is back)."""
    from django.db import DatabaseError, connection
    from django.db.migrations.executor import MigrationExecutor

    from admit.sso.models import User

    try:
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if pending:
            fail(
                f"the database lacks {len(pending)} migration(s) of this admit;"
                " run `admit migrate` first"
            )
        return User.objects.filter(is_superuser=True, is_locked=False).exists()
    except DatabaseError as exc:
        print(f"admit: could not check the database: {_first_line(exc)}", file=sys.stderr)
        return None
    finally:
        connection.close()  # gunicorn forks this process: each worker opens its own


def _check_signing_keys() -> None:
    """Make the OpenID Connect signing keys on first start, and refuse to start with keys
    that cannot be read (every log-in through an app would fail). A client whose algorithm
    has no key in use (an ES256 client, with ``ADMIT_OIDC_KEY`` changed to an RSA key alone)
    is named in a warning: the rest of admit serves on."""
    from django.db import DatabaseError

    from admit.sso.oidc import keys
    from admit.sso.oidc.models import Client

    try:
        usable = keys.algorithms()
    except keys.KeyProblem as problem:
        fail(f"cannot serve: the OpenID Connect signing keys: {problem}")
    try:
        stranded = list(
            Client.objects.exclude(algorithm__in=usable).values_list("client_id", "algorithm")
        )
    except DatabaseError:
        return  # said by _check_the_database
    for client_id, algorithm in stranded:
        print(
            f"admit: warning: client {client_id} signs with {algorithm}, and there is no"
            f" {algorithm} key: its log-ins fail until one is added to {keys.ENV_VARIABLE}",
            file=sys.stderr,
        )


def _supervise(children: list[subprocess.Popen]) -> None:
    """Run until a signal or until any child exits; then stop them all."""

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        exit_code = next(child.returncode for child in children if child.returncode is not None)
    except KeyboardInterrupt:
        pass
    for child in children:
        if child.poll() is None:
            child.terminate()
    for child in children:
        child.wait(timeout=30)
    sys.exit(exit_code)


def manage(args: argparse.Namespace) -> None:
    _django()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["admit manage", *args.rest])


def _add_remote_servers(commands: argparse._SubParsersAction) -> None:
    """The sub-commands live with the remote app; Django is set up before they run."""
    from admit.remote import cli as remote_cli

    remote_cli.add_parser(commands)


def _add_oidc(commands: argparse._SubParsersAction) -> None:
    """``apps`` and ``oidc`` live with the OpenID Connect provider; Django is set up first."""
    from admit.sso.oidc import cli as oidc_cli

    oidc_cli.add_parser(commands)


def _version() -> str:
    try:
        return metadata.version("admit")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def _workers(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(
            f"must be a whole number of at least 1, got {text!r} (from --workers or ADMIT_WORKERS)"
        )
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0, got {text!r}")
    return value


def _paragraphs(*texts: str) -> str:
    """Help text: each paragraph wrapped; one indented by two spaces (an example) as it is."""
    return "\n\n".join(
        text if text.startswith("  ") else textwrap.fill(text, 88, break_on_hyphens=False)
        for text in texts
    )


def build_parser() -> argparse.ArgumentParser:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="admit", description=DESCRIPTION, formatter_class=formatter
    )
    parser.add_argument(
        "--version", action="version", version=f"admit {_version()}", help="print the version"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, summary: str, *details: str) -> argparse.ArgumentParser:
        return commands.add_parser(
            name,
            help=summary,
            description=_paragraphs(f"{summary[0].upper()}{summary[1:]}.", *details),
            formatter_class=formatter,
        )

    p = command(
        "serve",
        "run the service (gunicorn) and an e-mail worker",
        "Stops with a one-line error when the address is taken, the configuration is bad or"
        " the database lacks migrations (run `admit migrate`). Once it listens it says where"
        " super-users approve sign-ups (/console/), or how to create the first super-user.",
    )
    p.add_argument(
        "--bind",
        default=os.environ.get("ADMIT_BIND", SERVICE_ADDRESS),
        metavar="ADDRESS",
        help="HOST:PORT, [IPv6]:PORT or unix:PATH to listen on (default: %(default)s;"
        " ADMIT_BIND sets the default)",
    )
    p.add_argument(
        "--workers",
        type=_workers,
        default=os.environ.get("ADMIT_WORKERS", str(os.cpu_count() or 1)),
        metavar="N",
        help="web worker processes (default: %(default)s; ADMIT_WORKERS sets the default,"
        " else one per core)",
    )
    p.add_argument(
        "--no-worker",
        dest="worker",
        action="store_false",
        help="do not start an e-mail worker (run `admit worker` apart)",
    )
    p.add_argument(
        "--access-log", action="store_true", help="log every request line from gunicorn too"
    )
    p.set_defaults(func=serve)

    p = command(
        "worker",
        "deliver queued e-mail and sweep expired sessions and keys",
        "While the database is out of reach it says so once, retries less and less often"
        " (at most every 30 s), and says when it is back.",
    )
    p.add_argument(
        "--poll",
        type=_seconds,
        default=1.0,
        metavar="SECONDS",
        help="seconds between rounds when there is nothing to do (default: %(default)s)",
    )
    p.add_argument("--once", action="store_true", help="deliver what is due, sweep, and exit")
    p.set_defaults(func=worker)

    p = command("migrate", "create or update the database tables (and the cache table)")
    p.add_argument(
        "--verbosity",
        type=int,
        choices=[0, 1, 2, 3],
        default=1,
        help="how much to print: 0 nothing, 3 everything (default: %(default)s)",
    )
    p.set_defaults(func=migrate)

    p = command(
        "createsuperuser",
        "make a super-user, who approves sign-ups in the console (/console/)",
        "In a terminal it asks for what is missing, and asks again for a value the rules"
        " refuse (a password too short or too common, a name taken, ...). Without a"
        f" terminal, give --username, --email and the password in {PASSWORD_VARIABLE}"
        " (never on the command line):",
        f"  {PASSWORD_VARIABLE}=... admit createsuperuser --username boss --email boss@example.com",
    )
    p.add_argument("--username", help="the super-user's username (asked for when left out)")
    p.add_argument("--email", help="the super-user's e-mail address (asked for when left out)")
    p.set_defaults(func=createsuperuser)

    _add_remote_servers(commands)
    _add_oidc(commands)

    p = command(
        "manage",
        "run a Django management command",
        "  admit manage check --deploy",
    )
    p.add_argument(
        "rest",
        nargs=argparse.REMAINDER,
        metavar="ARGS",
        help="the management command and its arguments (`admit manage help` lists them)",
    )
    p.set_defaults(func=manage)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    from django.db import Error as DatabaseError

    try:
        if getattr(args, "needs_django", False):
            _django()
        args.func(args)
    except DatabaseError as exc:
        fail(
            f"database error: {_first_line(exc)}. Is the database running and reachable"
            " (ADMIT_DATABASE_URL), and migrated (`admit migrate`)?"
        )
    except KeyboardInterrupt:
        print(file=sys.stderr)
        fail("interrupted", 130)


if __name__ == "__main__":
    main()
