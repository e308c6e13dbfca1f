"""POST /zato/sso/user/signup: the seed's example, every validation rule and its code."""

from __future__ import annotations

import pytest

from admit.audit.models import AuditEvent
from admit.confirmations.models import Confirmation
from admit.core.secrets import digest
from admit.mail.models import OutgoingEmail
from admit.sso.models import User
from tests.conftest import refused, signup_body

pytestmark = pytest.mark.django_db

SIGNUP = "/zato/sso/user/signup"


def test_seed_example_verbatim_creates_a_user_waiting_for_confirmation(api):
    # Exactly the seed's curl: JSON posted with curl's default form content type.
    response = api.call(
        "POST",
        SIGNUP,
        raw=b"""
    {
      "username":    "user1",
      "password":    "VrF57-H31 7!HIj%fSAz :L9",
      "email":       "user1@example.com",
      "current_app": "CRM",
      "app_list":    ["CRM", "ERP"]
    }
  """,
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert len(body["cid"]) == 24
    assert body["confirm_token"].startswith("zcnt") and len(body["confirm_token"]) == 36
    user = User.objects.get(username="user1")
    assert user.email == "user1@example.com"
    assert user.app_list == ["CRM", "ERP"]
    assert user.signup_app == "CRM"
    assert user.remote_ip == "10.23.91.177"
    assert not user.is_confirmed and not user.is_approved
    assert user.user_id.startswith("zusr")
    # The token is stored only as its digest, and the password only as an Argon2id hash.
    assert Confirmation.objects.filter(key_digest=digest(body["confirm_token"])).exists()
    assert not Confirmation.objects.filter(key_digest=body["confirm_token"]).exists()
    assert user.password.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")


def test_signup_queues_a_confirmation_email_with_the_link(api):
    token = api.post(SIGNUP, signup_body()).json()["confirm_token"]
    email = OutgoingEmail.objects.get()
    assert email.to == "user1@example.com"
    assert email.template == "signup_confirm"
    assert f"http://admit.test/confirm/{token}/" in email.body_text
    assert f"http://admit.test/confirm/{token}/" in email.body_html


def test_cid_is_fresh_per_request_and_in_the_audit_row(api):
    first = api.post(SIGNUP, signup_body()).json()["cid"]
    second = api.post(SIGNUP, signup_body(username="user2", email="user2@example.com")).json()[
        "cid"
    ]
    assert first != second
    row = AuditEvent.objects.get(cid=first)
    assert row.event == "signup" and row.outcome == "ok"
    assert row.target_user_id == User.objects.get(username="user1").user_id
    assert row.app == "CRM"
    assert row.remote_ip == "10.23.91.177"


def test_response_carries_the_cid_header_too(api):
    response = api.post(SIGNUP, signup_body())
    assert response["X-Correlation-ID"] == response.json()["cid"]


@pytest.mark.parametrize(
    ("username", "code"),
    [
        ("zato1", "E001001"),
        ("myAdmin", "E001001"),
        ("ROOTS", "E001001"),
        ("", "E001001"),
        ("zero\u200bwidth", "E001001"),
        ("x" * 129, "E001003"),
        ("user 1", "E001004"),
        (" user1", "E001004"),
        ("user1\t", "E001004"),
    ],
)
def test_username_rules(api, username, code):
    refused(api.post(SIGNUP, signup_body(username=username)), code)
    assert not User.objects.exists()


def test_username_of_exactly_128_characters_is_accepted(api):
    assert api.post(SIGNUP, signup_body(username="u" * 128)).status_code == 200


@pytest.mark.parametrize(
    ("email", "code"),
    [
        ("not-an-address", "E002001"),
        ("someone@root.example.com", "E002001"),
        ("ZATO@example.com", "E002001"),
        ("a" * 245 + "@example.com", "E002003"),
        ("user 1@example.com", "E002004"),
        ("user1@example.com ", "E002004"),
        ("", "E002005"),
    ],
)
def test_email_rules(api, email, code):
    refused(api.post(SIGNUP, signup_body(email=email)), code)
    assert not User.objects.exists()


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("password", "E003001"),
        ("PASSWORD123", "E003001"),
        ("short1!", "E003002"),
        ("x" * 257, "E003003"),
    ],
)
def test_password_rules(api, password, code):
    refused(api.post(SIGNUP, signup_body(password=password)), code)
    assert not User.objects.exists()


def test_password_whitespace_is_kept_as_typed(api):
    password = "  leading and trailing spaces  "
    api.post(SIGNUP, signup_body(password=password))
    user = User.objects.get()
    assert user.check_password(password)
    assert not user.check_password(password.strip())


def test_every_problem_is_named_at_once(api):
    response = api.post(SIGNUP, signup_body(username="root user", email="bad", password="short"))
    refused(response, "E001004", "E001001", "E002001", "E003002")


def test_a_taken_username_and_a_common_password_are_named_together(api):
    # The case: not E003001 first and E001002 once the password is fixed.
    api.post(SIGNUP, signup_body())
    response = api.post(SIGNUP, signup_body(email="other@example.com", password="password"))
    refused(response, "E001002", "E003001")
    assert User.objects.count() == 1


def test_every_problem_with_a_told_taken_address_and_the_app(api, policy):
    policy(signup={"inform_if_email_exists": True})
    api.post(SIGNUP, signup_body())
    body = signup_body(username="USER1", app_list=["HR"], password="short")
    response = api.post(SIGNUP, body)
    # The app's problem, then the username's, the address's and the password's.
    refused(response, "E004001", "E001002", "E002002", "E003002")
    row = AuditEvent.objects.get(cid=response.json()["cid"])
    assert row.error_codes == "E004001,E001002,E002002,E003002"


def test_a_hidden_taken_username_collapses_but_the_other_problems_are_told(api, policy):
    policy(signup={"inform_if_user_exists": False})
    api.post(SIGNUP, signup_body())
    response = api.post(SIGNUP, signup_body(email="other@example.com", password="password"))
    refused(response, "E005001", "E003001")


def test_taken_username_is_refused_case_insensitively(api):
    api.post(SIGNUP, signup_body())
    refused(api.post(SIGNUP, signup_body(username="USER1", email="other@example.com")), "E001002")
    assert User.objects.count() == 1


def test_taken_email_answers_like_a_fresh_signup_and_tells_the_owner(api):
    api.post(SIGNUP, signup_body())
    OutgoingEmail.objects.all().delete()
    response = api.post(SIGNUP, signup_body(username="user2", email="USER1@example.com"))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"status", "cid", "confirm_token"}
    assert body["confirm_token"].startswith("zcnt")
    assert User.objects.count() == 1
    mail = OutgoingEmail.objects.get()
    assert mail.to == "user1@example.com" and mail.template == "signup_email_taken"
    # Confirming the token it returned answers like any confirmation and changes nothing.
    confirmed = api.post("/zato/sso/user/signup/confirm", {"confirm_token": body["confirm_token"]})
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "ok"
    assert not User.objects.get().is_confirmed


def test_taken_email_is_told_when_the_policy_says_so(api, policy):
    policy(signup={"inform_if_email_exists": True})
    api.post(SIGNUP, signup_body())
    refused(api.post(SIGNUP, signup_body(username="user2")), "E002002")


@pytest.mark.parametrize(
    ("flag", "body", "code"),
    [
        ("inform_if_user_invalid", {"username": "root1"}, "E001001"),
        ("inform_if_email_invalid", {"email": "bad"}, "E002001"),
        ("inform_if_password_invalid", {"password": "password"}, "E003001"),
    ],
)
def test_hidden_codes_collapse_to_the_generic_one(api, policy, flag, body, code):
    refused(api.post(SIGNUP, signup_body(**body)), code)
    policy(signup={flag: False})
    refused(api.post(SIGNUP, signup_body(**body)), "E005001")
    # The audit log keeps the true code for the operator.
    assert AuditEvent.objects.filter(event="signup", error_codes=code).count() == 2


def test_hidden_taken_username(api, policy):
    policy(signup={"inform_if_user_exists": False})
    api.post(SIGNUP, signup_body())
    refused(api.post(SIGNUP, signup_body(email="other@example.com")), "E005001")


def test_unknown_app_and_app_not_allowed_to_sign_up(api, policy):
    refused(api.post(SIGNUP, signup_body(current_app="HR")), "E004001")
    refused(api.post(SIGNUP, signup_body(app_list=["CRM", "HR"])), "E004001")
    policy(apps={"signup_allowed": ("ERP",)})
    refused(api.post(SIGNUP, signup_body()), "E004002")
    assert not User.objects.exists()


def test_signup_switched_off(api, policy):
    policy(signup={"enabled": False})
    refused(api.post(SIGNUP, signup_body()), "E005001")
    assert not User.objects.exists()


def test_token_not_returned_when_configured(api, policy):
    policy(signup={"return_confirm_token": False})
    body = api.post(SIGNUP, signup_body()).json()
    assert set(body) == {"status", "cid"}
    assert OutgoingEmail.objects.get().template == "signup_confirm"


def test_without_confirmation_the_user_waits_for_approval_at_once(api, policy):
    policy(signup={"confirmation_required": False})
    body = api.post(SIGNUP, signup_body()).json()
    assert "confirm_token" not in body
    user = User.objects.get()
    assert user.is_confirmed and not user.is_approved
    assert not OutgoingEmail.objects.exists()


def test_without_confirmation_or_approval_the_user_is_welcomed_at_once(api, policy):
    policy(signup={"confirmation_required": False, "approval_required": False})
    api.post(SIGNUP, signup_body())
    user = User.objects.get()
    assert user.is_confirmed and user.is_approved
    assert OutgoingEmail.objects.get().template == "welcome"


def test_validation_hook_adds_the_operators_rule(api, policy):
    policy(signup={"validation_hook": "tests.sso.hooks.no_example_org"})
    refused(api.post(SIGNUP, signup_body(email="x@example.org")), "E002001")
    assert api.post(SIGNUP, signup_body()).status_code == 200


def test_failed_signup_is_audited_with_its_codes(api):
    response = api.post(SIGNUP, signup_body(password="password"))
    row = AuditEvent.objects.get(cid=response.json()["cid"])
    assert row.event == "signup" and row.outcome == "error" and row.error_codes == "E003001"
    assert "password" not in str(row.extra_data).lower()


def test_refused_signups_count_towards_the_address_limit(api, policy, clock):
    policy(rate_limits={"signups_per_address": (3, 60)})
    api.post(SIGNUP, signup_body())
    for _ in range(2):
        refused(api.post(SIGNUP, signup_body(email="other@example.com")), "E001002")
    limited = api.post(SIGNUP, signup_body(username="fresh", email="fresh@example.com"))
    assert limited.status_code == 429 and int(limited["Retry-After"]) >= 1
    assert limited.json()["sub_status"] == ["E005001"]
    assert User.objects.count() == 1


def test_taken_username_is_told_even_when_the_address_is_taken_too(api):
    api.post(SIGNUP, signup_body())
    refused(api.post(SIGNUP, signup_body(username="USER1", email="User1@Example.com")), "E001002")
    assert User.objects.count() == 1
