"""admit.sso.client: the Python API runs the same flows and raises the same codes."""

from __future__ import annotations

import pytest

from admit.core.errors import AdmitError
from admit.sso.client import SSO
from admit.sso.models import User
from tests.conftest import ADMIN_PASSWORD, GOOD_PASSWORD, ApiClient, refused

pytestmark = pytest.mark.django_db


def test_sign_up_to_log_in_through_python(superuser):
    sso = SSO(remote_ip="192.0.2.7")
    token = sso.signup("user1", GOOD_PASSWORD, "user1@example.com", "CRM").confirm_token
    sso.confirm_signup(token)
    admin = sso.login("boss", ADMIN_PASSWORD, "CRM").ust
    page = sso.pending(admin)
    assert [user.username for user in page.users] == ["user1"] and page.total == 1
    sso.approve(admin, page.users[0].user_id)
    ust = sso.login("user1", GOOD_PASSWORD, "CRM").ust
    assert sso.verify(admin, ust) and sso.verify(admin)
    assert sso.user(ust).remote_ip == "192.0.2.7"
    sso.logout(ust, "CRM")
    assert not sso.verify(admin, ust)


def test_errors_carry_the_true_codes_even_when_rest_hides_them(db, policy):
    policy(signup={"inform_if_password_invalid": False, "inform_if_user_exists": False})
    sso = SSO()
    with pytest.raises(AdmitError) as common:
        sso.signup("user1", "password", "user1@example.com", "CRM")
    assert common.value.codes == ["E003001"]
    sso.signup("user1", GOOD_PASSWORD, "user1@example.com", "CRM")
    with pytest.raises(AdmitError) as taken:
        sso.signup("USER1", GOOD_PASSWORD, "other@example.com", "CRM")
    assert taken.value.codes == ["E001002"]
    assert User.objects.count() == 1


def test_rights_refusals_carry_e005005_where_rest_shows_e005001(superuser):
    sso = SSO()
    admin = sso.login("boss", ADMIN_PASSWORD, "CRM").ust
    alice = sso.create_user(admin, "alice", GOOD_PASSWORD, "alice@example.com", auto_approve=True)
    ust = sso.login("alice", GOOD_PASSWORD, "CRM").ust
    with pytest.raises(AdmitError) as python:
        sso.update_user(ust, is_locked=True)
    assert python.value.codes == ["E005005"]
    with pytest.raises(AdmitError) as other:
        sso.user(ust, superuser.user_id)
    assert other.value.codes == ["E005005"]
    rest = ApiClient().call("PATCH", "/zato/sso/user", {"ust": ust, "is_locked": True})
    refused(rest, "E005001")
    assert not User.objects.get(pk=alice.pk).is_locked


def test_create_without_a_password_or_an_address_then_change_through_python(superuser):
    sso = SSO()
    admin = sso.login("boss", ADMIN_PASSWORD, "CRM").ust
    names = {"first_name": "Carol", "last_name": "Collins"}
    carol = sso.create_user(admin, "carol", "", "", auto_approve=True, **names)
    assert not carol.has_usable_password() and carol.email == ""
    assert carol.display_name == "Carol Collins"
    with pytest.raises(AdmitError) as refused_login:
        sso.login("carol", "", "CRM")
    assert refused_login.value.codes == ["E005001"]
    sso.change_password(admin, GOOD_PASSWORD, user_id=carol.user_id)
    ust = sso.login("carol", GOOD_PASSWORD, "CRM").ust
    sso.update_user(ust, username="caroline")
    assert sso.user(ust).username == "caroline"
    with pytest.raises(AdmitError) as unknown:
        sso.update_user(admin, "zusrnobody", display_name="x")
    assert unknown.value.codes == ["E001100"]
