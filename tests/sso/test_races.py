"""Concurrent requests for one name, one token, one approval: exactly one wins.

These run real transactions from several threads at once (each thread has its own database
connection); on PostgreSQL the unique constraints and row locks decide, on SQLite the
write lock does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import IntegrityError, connection

from admit.audit.models import AuditEvent
from admit.confirmations.models import Confirmation
from admit.core.context import Caller
from admit.core.errors import AdmitError
from admit.mail.models import OutgoingEmail
from admit.sso import flows
from admit.sso.models import User
from admit.sso.rules import SignupRequest
from tests.conftest import signup_body

pytestmark = pytest.mark.django_db(transaction=True)
RACERS = 6


def race(action: Callable[[int], object]) -> list[object]:
    """Run ``action(i)`` in RACERS threads released together; returns each one's result, or
    the ``AdmitError`` it was refused with. Anything else a thread raises (an IntegrityError,
    a deadlock, a failed assertion) fails the test, and so does a thread still running after
    a minute."""
    barrier = threading.Barrier(RACERS)
    results: list[object] = [None] * RACERS
    crashes: list[tuple[int, BaseException]] = []

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = action(index)
        except AdmitError as error:
            results[index] = error
        except BaseException as error:  # kept, to fail the test below
            crashes.append((index, error))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    stuck = [index for index, thread in enumerate(threads) if thread.is_alive()]
    assert not stuck, f"threads {stuck} still running after 60 s"
    if crashes:
        index, first = crashes[0]
        details = "; ".join(f"thread {i}: {type(e).__name__}: {e}" for i, e in crashes)
        raise AssertionError(f"{len(crashes)} thread(s) raised: {details}") from first
    return results


def errors(results: list[object]) -> list[str]:
    return sorted(",".join(r.codes) for r in results if isinstance(r, AdmitError))


def test_race_fails_on_an_error_that_is_not_a_refusal():
    def collide(i: int) -> object:
        if i == 2:
            raise IntegrityError("duplicate key value violates unique constraint")
        return i

    with pytest.raises(AssertionError, match="1 thread.* raised: thread 2: IntegrityError"):
        race(collide)
    assert race(lambda i: i) == list(range(RACERS))


def test_duplicate_signups_make_exactly_one_account():
    def sign_up(i: int) -> object:
        body = signup_body(username="SameName" if i % 2 else "samename", email=f"u{i}@example.com")
        return flows.signup(SignupRequest(**body), Caller())

    results = race(sign_up)
    assert User.objects.count() == 1
    assert errors(results) == ["E001002"] * (RACERS - 1)
    assert OutgoingEmail.objects.count() == 1
    outcomes = AuditEvent.objects.filter(event="signup").values_list("outcome", flat=True)
    assert sorted(outcomes) == ["error"] * (RACERS - 1) + ["ok"]  # the losers are on record
    assert Confirmation.objects.get().object_id == str(User.objects.get().pk)


def test_duplicate_addresses_make_exactly_one_account(settings):
    def sign_up(i: int) -> object:
        body = signup_body(username=f"person{i}", email="Same@Example.com")
        return flows.signup(SignupRequest(**body), Caller())

    race(sign_up)
    assert User.objects.count() == 1


def test_one_token_confirms_once():
    token = flows.signup(SignupRequest(**signup_body()), Caller()).confirm_token
    results = race(lambda i: flows.confirm_signup(token, Caller()))
    assert errors(results) == ["E005007"] * (RACERS - 1)
    assert User.objects.get().is_confirmed


def test_concurrent_approvals_send_one_welcome(superuser, admin_ust):
    token = flows.signup(SignupRequest(**signup_body()), Caller()).confirm_token
    flows.confirm_signup(token, Caller())
    user_id = User.objects.get(username="user1").user_id
    results = race(lambda i: flows.approve(user_id, admin_ust, Caller()))
    assert errors(results) == []
    assert OutgoingEmail.objects.filter(template="welcome").count() == 1


def test_approve_and_reject_at_once_leave_one_consistent_outcome(superuser, admin_ust):
    token = flows.signup(SignupRequest(**signup_body()), Caller()).confirm_token
    flows.confirm_signup(token, Caller())
    user_id = User.objects.get(username="user1").user_id

    def decide(i: int) -> object:
        if i % 2:
            return flows.approve(user_id, admin_ust, Caller())
        return flows.reject(user_id, "no", admin_ust, Caller())

    race(decide)
    templates = sorted(
        OutgoingEmail.objects.exclude(template="signup_confirm").values_list("template", flat=True)
    )
    user = User.objects.filter(user_id=user_id).first()
    if user is None:  # rejected first: later approvals found nobody, nobody was welcomed
        assert templates == ["rejected"]
    else:  # approved first: later rejections were refused
        assert user.is_approved and templates == ["welcome"]
