"""``admit serve`` as an operator runs it: gunicorn worker processes, an e-mail worker, one
shared database and cache."""

from __future__ import annotations

import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import GOOD_PASSWORD, signup_body
from tests.live.conftest import ADMIT, _environment, free_port, start, stop

ADMIN = {"username": "boss", "password": "Correct-Horse-Battery-42", "current_app": "CRM"}


def make_superuser(live) -> str:
    made = live.run(
        "createsuperuser", "--username", "boss", "--email", "boss@example.com",
        extra_env={"ADMIT_SUPERUSER_PASSWORD": ADMIN["password"]},
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "Super-user boss created" in made.stdout
    return live.call("POST", "/zato/sso/user/login", ADMIN)[2]["ust"]


def test_signup_to_login_through_the_real_server(live_admit):
    admin_ust = make_superuser(live_admit)
    status, headers, body = live_admit.call("POST", "/zato/sso/user/signup", signup_body())
    assert status == 200 and body["status"] == "ok"
    assert (
        live_admit.call(
            "POST", "/zato/sso/user/signup/confirm", {"confirm_token": body["confirm_token"]}
        )[0]
        == 200
    )
    status, headers, queue = live_admit.call(
        "GET", f"/zato/sso/user/signup?status=to-approve&ust={admin_ust}"
    )
    assert headers["X-Total-Count"] == "1" and queue[0]["username"] == "user1"
    approve = {"user_id": queue[0]["user_id"], "ust": admin_ust}
    assert live_admit.call("POST", "/zato/sso/user/signup/approve", approve)[0] == 200
    login = {"username": "user1", "password": GOOD_PASSWORD, "current_app": "CRM"}
    assert live_admit.call("POST", "/zato/sso/user/login", login)[2]["ust"].startswith("zust")


def test_the_email_worker_started_by_serve_delivers_to_the_outbox(live_admit):
    live_admit.call("POST", "/zato/sso/user/signup", signup_body())
    outbox = live_admit.data_dir / "outbox"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not list(outbox.glob("*.log")):
        time.sleep(0.2)
    messages = b"".join(path.read_bytes() for path in outbox.glob("*.log"))
    assert b"To: user1@example.com" in messages and b"/confirm/zcnt" in messages


def _failures_from_other_processes(live, count: int) -> None:
    """Failed log-ins counted by separate processes, as other workers would count them."""
    code = (
        "from admit.core.ratelimit import Counter\n"
        "from django.conf import settings\n"
        "limit = settings.ADMIT_POLICY.rate_limits.login_failures_per_address\n"
        f"for _ in range({count}):\n"
        "    assert Counter('login-address', '127.0.0.1', limit).claim()\n"
    )
    for _ in range(2):
        done = live.python(code)
        assert done.returncode == 0, done.stderr


def test_rate_limits_are_shared_by_every_process(live_admit):
    _failures_from_other_processes(live_admit, 5)  # 2 processes x 5 = the limit of 10
    wrong = {"username": "nobody", "password": "wrong password", "current_app": "CRM"}
    status, headers, body = live_admit.call("POST", "/zato/sso/user/login", wrong)
    assert status == 429 and int(headers["Retry-After"]) >= 1
    assert body["status"] == "error" and body["sub_status"] == ["E005001"]


def _redis_url() -> str:
    import redis

    url = "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip("no Redis on 127.0.0.1:6379: the Redis cache cannot be tested here")
    redis.Redis.from_url(url).flushdb()
    return url


def test_rate_limits_are_shared_through_redis(tmp_path):
    live, server = start(tmp_path, redis_url=_redis_url())
    try:
        _failures_from_other_processes(live, 5)
        wrong = {"username": "nobody", "password": "wrong password", "current_app": "CRM"}
        assert live.call("POST", "/zato/sso/user/login", wrong)[0] == 429
    finally:
        stop(live, server)


@pytest.mark.postgres
def test_a_database_restart_costs_each_worker_one_503_then_service_resumes(live_admit):
    url = live_admit.env.get("ADMIT_DATABASE_URL", "")
    if not url.startswith("postgres"):
        pytest.skip("cutting the server's database connections needs PostgreSQL")
    import psycopg

    body = {"username": "nobody", "password": "wrong password", "current_app": "CRM"}
    with ThreadPoolExecutor(4) as pool:  # side by side, so that every worker opens a connection
        list(pool.map(lambda _: live_admit.call("POST", "/zato/sso/user/login", body), range(8)))
    base, _, name = url.rpartition("/")
    with psycopg.connect(base + "/postgres", autocommit=True) as connection:
        cut = connection.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s",
            [name],
        ).fetchone()[0]
    assert cut >= 1

    answers = [
        live_admit.call(
            "POST",
            "/zato/sso/user/signup",
            signup_body(username=f"user{i}", email=f"user{i}@example.com"),
        )
        for i in range(6)
    ]
    unavailable = [(status, h, b) for status, h, b in answers if status != 200]
    assert answers[0][0] == 503 and answers[-1][0] == 200
    for status, headers, answer in unavailable:
        assert status == 503 and answer["sub_status"] == ["E011001"]
        assert headers["Retry-After"] == "1"
    assert len(unavailable) <= 2  # one per gunicorn worker, then fresh connections


def test_serve_refuses_a_database_that_needs_admit_migrate(tmp_path):
    env = _environment(tmp_path)
    started = subprocess.run(
        [*ADMIT, "serve", "--bind", f"127.0.0.1:{free_port()}", "--no-worker"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert started.returncode != 0
    assert "run `admit migrate` first" in started.stderr
