"""The ``admit`` command: serve, worker, migrate, createsuperuser, and Django's own commands."""

from __future__ import annotations

import argparse
import getpass
import os
import signal
import subprocess
import sys
import time

SERVICE_ADDRESS = "127.0.0.1:11223"


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "admit.settings")
    import django

    from admit.config import ConfigError

    try:
        django.setup()
    except ConfigError as exc:
        sys.exit(f"admit: configuration error: {exc}")


def migrate(args: argparse.Namespace) -> None:
    _django()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=args.verbosity)
    call_command("createcachetable", verbosity=args.verbosity)


def createsuperuser(args: argparse.Namespace) -> None:
    _django()
    from admit.core.context import Caller
    from admit.core.errors import AdmitError
    from admit.sso.flows.users import create_superuser

    username = args.username or input("Username: ").strip()
    email = args.email or input("E-mail address: ").strip()
    password = os.environ.get("ADMIT_SUPERUSER_PASSWORD")
    if not password:
        if not sys.stdin.isatty():
            sys.exit("admit: set ADMIT_SUPERUSER_PASSWORD or run this in a terminal to be asked")
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Password (again): "):
            sys.exit("admit: the passwords differ")
    try:
        user = create_superuser(username, email, password, Caller())
    except AdmitError as exc:
        sys.exit(
            f"admit: refused ({', '.join(exc.codes)}): {exc.message}; see docs/api.md for the codes"
        )
    print(f"Super-user {user.username} created ({user.user_id}).")


def worker(args: argparse.Namespace) -> None:
    _django()
    from admit.worker import run

    run(poll_seconds=args.poll, once=args.once)


def serve(args: argparse.Namespace) -> None:
    """gunicorn with one sync worker per core, plus an e-mail worker unless --no-worker."""
    _django()
    from django.conf import settings

    _refuse_an_unmigrated_database()

    gunicorn = [
        sys.executable, "-m", "gunicorn", "admit.wsgi:application",
        "--bind", args.bind,
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
    children = [subprocess.Popen(gunicorn)]
    if args.worker:
        children.append(subprocess.Popen([sys.executable, "-m", "admit.cli", "worker"]))
    print(
        f"admit is serving on http://{args.bind} with {args.workers} workers"
        f" (data in {settings.ADMIT_DATA_DIR}).\n"
        "Create the first super-user with:  .venv/bin/admit createsuperuser\n"
        f"API documentation: http://{args.bind}/api/docs",
        flush=True,
    )
    _supervise(children)


def _refuse_an_unmigrated_database() -> None:
    """Code newer than its tables (admit upgraded, ``admit migrate`` not run) would fail
    requests one by one; say so and do not start. A database out of reach is not refused:
    the workers answer 503 until it comes back."""
    from django.db import OperationalError, connection
    from django.db.migrations.executor import MigrationExecutor

    try:
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except OperationalError as exc:
        print(f"admit: could not check the database's migrations: {exc}", file=sys.stderr)
        return
    finally:
        connection.close()  # gunicorn forks this process: each worker opens its own
    if pending:
        sys.exit(
            f"admit: the database lacks {len(pending)} migration(s) of this admit;"
            " run `admit migrate` first"
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="admit", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("serve", help="run the service (gunicorn) and an e-mail worker")
    p.add_argument("--bind", default=os.environ.get("ADMIT_BIND", SERVICE_ADDRESS))
    p.add_argument(
        "--workers", type=int, default=int(os.environ.get("ADMIT_WORKERS", os.cpu_count() or 1))
    )
    p.add_argument(
        "--no-worker", dest="worker", action="store_false", help="do not start an e-mail worker"
    )
    p.add_argument(
        "--access-log", action="store_true", help="log every request line from gunicorn too"
    )
    p.set_defaults(func=serve)

    p = commands.add_parser("worker", help="deliver queued e-mail")
    p.add_argument("--poll", type=float, default=1.0, help="seconds between rounds when idle")
    p.add_argument("--once", action="store_true", help="deliver what is due and exit")
    p.set_defaults(func=worker)

    p = commands.add_parser("migrate", help="create or update the database tables")
    p.add_argument("--verbosity", type=int, default=1)
    p.set_defaults(func=migrate)

    p = commands.add_parser("createsuperuser", help="make a super-user")
    p.add_argument("--username")
    p.add_argument("--email")
    p.set_defaults(func=createsuperuser)

    _add_remote_servers(commands)

    p = commands.add_parser("manage", help="run a Django management command")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=manage)

    args = parser.parse_args(argv)
    if getattr(args, "needs_django", False):
        _django()
    args.func(args)


if __name__ == "__main__":
    main()
