"""/zato/sso/user/attr and /zato/sso/session/attr (+ /exists, /names), as Zato's SSO
attribute services (zato.server.service.internal.sso.attr, zato.sso.attr) behave. Each test
is named after the behaviour it pins."""

from __future__ import annotations

import json

import pytest

from admit.audit.models import AuditEvent
from admit.sso.flows.attributes import MAX_PER_OWNER, MAX_VALUE_LENGTH, sweep_expired_attributes
from admit.sso.models import Attribute
from tests.conftest import GOOD_PASSWORD, codes, make_user, refused

pytestmark = pytest.mark.django_db

UA = "/zato/sso/user/attr"
SA = "/zato/sso/session/attr"
LOGIN = "/zato/sso/user/login"
LOGOUT = "/zato/sso/user/logout"


def ust_of(api, name: str) -> str:
    response = api.post(LOGIN, {"username": name, "password": GOOD_PASSWORD, "current_app": "CRM"})
    assert response.status_code == 200, response.content
    return response.json()["ust"]


def okay(response) -> dict:
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    return body


@pytest.fixture
def alice(api, admin_ust) -> tuple[str, str]:
    """A regular user: (user_id, ust)."""
    user_id = make_user(api, admin_ust, "alice")
    return user_id, ust_of(api, "alice")


@pytest.fixture
def bob(api, admin_ust) -> tuple[str, str]:
    user_id = make_user(api, admin_ust, "bob")
    return user_id, ust_of(api, "bob")


def get(api, path: str, **values) -> dict:
    return okay(api.get(path, {"current_app": "CRM", **values}))


# User attributes: create, get, update, set, delete, exists, names


def test_create_then_get_returns_the_value_and_its_metadata(api, alice):
    _, ust = alice
    value = {"theme": "dark", "sizes": [1, 2.5, None], "ok": True}
    okay(api.post(UA, {"ust": ust, "current_app": "CRM", "name": "prefs", "value": value}))
    body = get(api, UA, ust=ust, name="prefs")
    assert body["found"] is True
    assert body["name"] == "prefs" and body["value"] == value
    assert body["is_encrypted"] is False and body["expiration_time"] is None
    assert len(body["creation_time"]) == 19 and body["creation_time"] == body["last_modified"]


def test_get_in_the_query_string_is_the_same_as_in_the_body(api, alice):
    _, ust = alice
    okay(api.post(UA, {"ust": ust, "name": "a", "value": 1}))
    body = okay(api.client.get(UA, {"ust": ust, "name": "a", "current_app": "CRM"}))
    assert body["found"] is True and body["value"] == 1


def test_get_of_an_absent_name_is_found_false(api, alice):
    body = get(api, UA, ust=alice[1], name="nothing")
    assert body["found"] is False
    assert "value" not in body and "result" not in body


def test_create_existing_name_is_E009001(api, alice):
    _, ust = alice
    okay(api.post(UA, {"ust": ust, "name": "a", "value": 1}))
    refused(api.post(UA, {"ust": ust, "name": "a", "value": 2}), "E009001")
    assert get(api, UA, ust=ust, name="a")["value"] == 1


def test_update_changes_the_value_and_last_modified(api, alice, clock):
    _, ust = alice
    okay(api.post(UA, {"ust": ust, "name": "a", "value": "old"}))
    clock.advance(seconds=30)
    okay(api.call("PATCH", UA, {"ust": ust, "name": "a", "value": "new"}))
    body = get(api, UA, ust=ust, name="a")
    assert body["value"] == "new" and body["last_modified"] > body["creation_time"]


def test_update_of_a_missing_name_is_E009002(api, alice):
    refused(api.call("PATCH", UA, {"ust": alice[1], "name": "a", "value": 1}), "E009002")
    assert not Attribute.objects.exists()


def test_update_with_only_expiration_keeps_the_value(api, alice):
    _, ust = alice
    okay(api.post(UA, {"ust": ust, "name": "a", "value": [1]}))
    okay(api.call("PATCH", UA, {"ust": ust, "name": "a", "expiration": 60}))
    body = get(api, UA, ust=ust, name="a")
    assert body["value"] == [1] and body["expiration_time"] is not None


def test_set_creates_then_updates(api, alice):
    _, ust = alice
    okay(api.call("PUT", UA, {"ust": ust, "name": "a", "value": 1}))
    okay(api.call("PUT", UA, {"ust": ust, "name": "a", "value": 2}))
    assert get(api, UA, ust=ust, name="a")["value"] == 2
    assert Attribute.objects.count() == 1


def test_delete_removes_the_attribute(api, alice):
    _, ust = alice
    okay(api.post(UA, {"ust": ust, "name": "a", "value": 1}))
    okay(api.call("DELETE", UA, {"ust": ust, "name": "a"}))
    assert get(api, UA, ust=ust, name="a")["found"] is False


def test_delete_of_a_missing_name_is_E009002(api, alice):
    refused(api.call("DELETE", UA, {"ust": alice[1], "name": "a"}), "E009002")


def test_delete_many_deletes_those_that_exist_and_is_E009002_only_if_none_does(api, alice):
    _, ust = alice
    okay(api.post(UA, {"ust": ust, "data": [{"name": "a", "value": 1}, {"name": "b", "value": 2}]}))
    okay(api.call("DELETE", UA, {"ust": ust, "data": ["a", "zzz"]}))
    assert get(api, UA + "/names", ust=ust)["result"] == ["b"]
    refused(api.call("DELETE", UA, {"ust": ust, "data": ["a", "zzz"]}), "E009002")


def test_exists_with_name_is_a_bool(api, alice):
    _, ust = alice
    okay(api.post(UA, {"ust": ust, "name": "a", "value": 1}))
    assert get(api, UA + "/exists", ust=ust, name="a")["result"] is True
    assert get(api, UA + "/exists", ust=ust, name="b")["result"] is False


def test_exists_with_data_is_an_object_of_bools(api, alice):
    _, ust = alice
    okay(api.post(UA, {"ust": ust, "name": "a", "value": 1}))
    body = get(api, UA + "/exists", ust=ust, data=["a", "b"])
    assert body["result"] == {"a": True, "b": False}


def test_exists_with_data_as_repeated_query_parameters(api, alice):
    _, ust = alice
    okay(api.post(UA, {"ust": ust, "name": "a", "value": 1}))
    response = api.client.get(UA + "/exists", {"ust": ust, "data": ["a", "b"]})
    assert okay(response)["result"] == {"a": True, "b": False}


def test_names_lists_live_names_sorted(api, alice):
    _, ust = alice
    for name in ("zeta", "alpha", "mid"):
        okay(api.post(UA, {"ust": ust, "name": name, "value": None}))
    assert get(api, UA + "/names", ust=ust)["result"] == ["alpha", "mid", "zeta"]


def test_a_json_null_value_is_a_value(api, alice):
    _, ust = alice
    okay(api.post(UA, {"ust": ust, "name": "a", "value": None}))
    body = get(api, UA, ust=ust, name="a")
    assert body["found"] is True and body["value"] is None


# Many at once


def test_create_many_with_data(api, alice):
    _, ust = alice
    data = [{"name": "a", "value": 1}, {"name": "b", "value": {"x": "y"}, "expiration": 60}]
    okay(api.post(UA, {"ust": ust, "data": data}))
    body = get(api, UA, ust=ust, data=["a", "b", "c"])
    assert body["result"]["a"]["value"] == 1 and body["result"]["a"]["expiration_time"] is None
    assert body["result"]["b"]["value"] == {"x": "y"}
    assert body["result"]["b"]["expiration_time"] is not None
    assert body["result"]["c"] is None
    assert "found" not in body


def test_create_many_is_all_or_nothing(api, alice):
    _, ust = alice
    okay(api.post(UA, {"ust": ust, "name": "b", "value": 0}))
    data = [{"name": "a", "value": 1}, {"name": "b", "value": 2}, {"name": "c", "value": 3}]
    refused(api.post(UA, {"ust": ust, "data": data}), "E009001")
    assert get(api, UA + "/names", ust=ust)["result"] == ["b"]
    assert get(api, UA, ust=ust, name="b")["value"] == 0


def test_create_many_with_a_repeated_name_is_E009001(api, alice):
    data = [{"name": "a", "value": 1}, {"name": "a", "value": 2}]
    refused(api.post(UA, {"ust": alice[1], "data": data}), "E009001")
    assert not Attribute.objects.exists()


def test_update_many_is_all_or_nothing(api, alice):
    _, ust = alice
    okay(api.post(UA, {"ust": ust, "name": "a", "value": 1}))
    data = [{"name": "a", "value": 10}, {"name": "missing", "value": 20}]
    refused(api.call("PATCH", UA, {"ust": ust, "data": data}), "E009002")
    assert get(api, UA, ust=ust, name="a")["value"] == 1


def test_set_many_creates_and_updates_together(api, alice):
    _, ust = alice
    okay(api.post(UA, {"ust": ust, "name": "a", "value": 1}))
    okay(
        api.call(
            "PUT", UA, {"ust": ust, "data": [{"name": "a", "value": 2}, {"name": "b", "value": 3}]}
        )
    )
    result = get(api, UA, ust=ust, data=["a", "b"])["result"]
    assert (result["a"]["value"], result["b"]["value"]) == (2, 3)


def test_request_level_encrypt_and_expiration_apply_to_each_data_item(api, alice):
    _, ust = alice
    data = [{"name": "a", "value": 1}, {"name": "b", "value": 2, "encrypt": False}]
    okay(api.post(UA, {"ust": ust, "data": data, "encrypt": True, "expiration": 60}))
    rows = {row.name: row for row in Attribute.objects.all()}
    assert rows["a"].is_encrypted and not rows["b"].is_encrypted
    assert rows["a"].expiration_time is not None and rows["b"].expiration_time is not None


# Expiration


def test_an_expired_attribute_is_absent(api, alice, clock):
    _, ust = alice
    okay(api.post(UA, {"ust": ust, "name": "a", "value": 1, "expiration": 60}))
    assert get(api, UA, ust=ust, name="a")["found"] is True
    clock.advance(seconds=61)
    assert get(api, UA, ust=ust, name="a")["found"] is False
    assert get(api, UA + "/exists", ust=ust, name="a")["result"] is False
    assert get(api, UA + "/names", ust=ust)["result"] == []
    refused(api.call("PATCH", UA, {"ust": ust, "name": "a", "value": 2}), "E009002")
    refused(api.call("DELETE", UA, {"ust": ust, "name": "a"}), "E009002")


def test_create_over_an_expired_attribute_replaces_it(api, alice, clock):
    _, ust = alice
    okay(api.post(UA, {"ust": ust, "name": "a", "value": 1, "expiration": 60}))
    clock.advance(seconds=61)
    okay(api.post(UA, {"ust": ust, "name": "a", "value": 2}))
    body = get(api, UA, ust=ust, name="a")
    assert body["value"] == 2 and body["expiration_time"] is None


def test_the_sweep_deletes_expired_attributes(api, alice, clock):
    _, ust = alice
    okay(api.post(UA, {"ust": ust, "name": "a", "value": 1, "expiration": 60}))
    okay(api.post(UA, {"ust": ust, "name": "b", "value": 1}))
    clock.advance(seconds=61)
    assert sweep_expired_attributes() == 1
    assert list(Attribute.objects.values_list("name", flat=True)) == ["b"]


def test_the_worker_sweeps_expired_attributes(api, alice, clock):
    from admit.worker import sweep

    okay(api.post(UA, {"ust": alice[1], "name": "a", "value": 1, "expiration": 60}))
    clock.advance(seconds=61)
    sweep()
    assert not Attribute.objects.exists()


@pytest.mark.parametrize("expiration", [0, -5, "60", 1.5, True])
def test_expiration_must_be_a_positive_integer(api, alice, expiration):
    body = {"ust": alice[1], "name": "a", "value": 1, "expiration": expiration}
    refused(api.post(UA, body), "E008002", status=400)


# Encryption


def test_encrypt_stores_a_sealed_value_and_get_decrypts_it(api, alice):
    _, ust = alice
    okay(api.post(UA, {"ust": ust, "name": "secret", "value": "hunter2", "encrypt": True}))
    row = Attribute.objects.get()
    assert row.is_encrypted and "hunter2" not in row.value
    body = get(api, UA, ust=ust, name="secret")
    assert body["value"] == "hunter2" and body["is_encrypted"] is True


def test_get_with_decrypt_false_returns_the_stored_form(api, alice):
    _, ust = alice
    okay(api.post(UA, {"ust": ust, "name": "secret", "value": "hunter2", "encrypt": True}))
    body = get(api, UA, ust=ust, name="secret", decrypt=False)
    assert body["value"] == Attribute.objects.get().value != "hunter2"


def test_update_stores_the_new_value_as_its_encrypt_says(api, alice):
    _, ust = alice
    okay(api.post(UA, {"ust": ust, "name": "a", "value": "plain"}))
    okay(api.call("PATCH", UA, {"ust": ust, "name": "a", "value": "hidden", "encrypt": True}))
    assert "hidden" not in Attribute.objects.get().value
    assert get(api, UA, ust=ust, name="a")["value"] == "hidden"
    okay(api.call("PATCH", UA, {"ust": ust, "name": "a", "value": "open"}))
    row = Attribute.objects.get()
    assert not row.is_encrypted and json.loads(row.value) == "open"


def test_no_value_is_in_the_audit_log(api, alice):
    _, ust = alice
    okay(api.post(UA, {"ust": ust, "name": "a", "value": "sekrit-value", "encrypt": True}))
    okay(api.call("PUT", UA, {"ust": ust, "name": "a", "value": "other-sekrit"}))
    rows = AuditEvent.objects.filter(event__startswith="attribute.")
    assert [row.event for row in rows.order_by("id")] == ["attribute.create", "attribute.set"]
    for row in rows:
        assert row.actor_user_id == row.target_user_id == alice[0]
        assert "sekrit" not in json.dumps(row.extra_data)


# Who may use whose attributes


def test_regular_user_on_another_users_attributes_is_E005001(api, alice, bob):
    okay(api.post(UA, {"ust": bob[1], "name": "a", "value": 1}))
    refused(api.post(UA, {"ust": alice[1], "user_id": bob[0], "name": "x", "value": 1}), "E005001")
    refused(
        api.call("PUT", UA, {"ust": alice[1], "user_id": bob[0], "name": "a", "value": 2}),
        "E005001",
    )
    refused(api.call("DELETE", UA, {"ust": alice[1], "user_id": bob[0], "name": "a"}), "E005001")
    refused(api.get(UA, {"ust": alice[1], "user_id": bob[0], "name": "a"}), "E005001")
    refused(api.get(UA + "/names", {"ust": alice[1], "user_id": bob[0]}), "E005001")
    assert list(Attribute.objects.values_list("name", "value")) == [("a", "1")]
    refused_rows = AuditEvent.objects.filter(event__startswith="attribute.", outcome="error")
    assert refused_rows.count() == 3


def test_regular_user_on_an_unknown_user_id_is_E005001_too(api, alice):
    refused(api.get(UA, {"ust": alice[1], "user_id": "zusr-nobody", "name": "a"}), "E005001")


def test_superuser_on_anyones_attributes(api, admin_ust, alice, superuser):
    user_id, ust = alice
    okay(api.post(UA, {"ust": admin_ust, "user_id": user_id, "name": "a", "value": 1}))
    assert get(api, UA, ust=ust, name="a")["value"] == 1
    assert get(api, UA, ust=admin_ust, name="a")["found"] is False
    row = AuditEvent.objects.get(event="attribute.create")
    assert (row.actor_user_id, row.target_user_id) == (superuser.user_id, user_id)


def test_superuser_on_an_unknown_user_id_is_E001100(api, admin_ust):
    refused(
        api.post(UA, {"ust": admin_ust, "user_id": "zusr-nobody", "name": "a", "value": 1}),
        "E001100",
    )


def test_an_expired_ust_is_E007002(api, alice, clock):
    clock.advance(days=2)
    refused(api.get(UA, {"ust": alice[1], "name": "a"}), "E007002")


# Session attributes


def test_session_attributes_belong_to_one_session(api, alice):
    user_id, ust = alice
    other_ust = ust_of(api, "alice")
    okay(api.post(SA, {"current_ust": ust, "name": "cart", "value": [1, 2]}))
    assert get(api, SA, current_ust=ust, name="cart")["value"] == [1, 2]
    assert get(api, SA, current_ust=other_ust, name="cart")["found"] is False
    assert get(api, UA, ust=ust, name="cart")["found"] is False


def test_session_attributes_accept_ust_alone_as_the_current_session(api, alice):
    _, ust = alice
    okay(api.post(SA, {"ust": ust, "name": "a", "value": 1}))
    assert get(api, SA, current_ust=ust, name="a")["value"] == 1


def test_session_attribute_of_another_own_session_via_target_ust(api, alice):
    _, ust = alice
    other_ust = ust_of(api, "alice")
    okay(api.post(SA, {"current_ust": ust, "target_ust": other_ust, "name": "a", "value": 1}))
    assert get(api, SA, current_ust=other_ust, name="a")["value"] == 1


def test_session_update_set_delete_exists_names(api, alice):
    _, ust = alice
    okay(api.post(SA, {"current_ust": ust, "name": "a", "value": 1}))
    okay(api.call("PATCH", SA, {"current_ust": ust, "name": "a", "value": 2}))
    okay(api.call("PUT", SA, {"current_ust": ust, "name": "b", "value": 3}))
    assert get(api, SA + "/names", current_ust=ust)["result"] == ["a", "b"]
    assert get(api, SA + "/exists", current_ust=ust, data=["a", "c"])["result"] == {
        "a": True,
        "c": False,
    }
    okay(api.call("DELETE", SA, {"current_ust": ust, "data": ["a", "b"]}))
    assert get(api, SA + "/names", current_ust=ust)["result"] == []


def test_regular_user_on_another_users_session_is_E005001(api, alice, bob):
    okay(api.post(SA, {"current_ust": bob[1], "name": "a", "value": 1}))
    body = {"current_ust": alice[1], "target_ust": bob[1], "name": "a", "value": 2}
    refused(api.call("PUT", SA, body), "E005001")
    refused(api.get(SA, {"current_ust": alice[1], "target_ust": bob[1], "name": "a"}), "E005001")
    assert Attribute.objects.get().value == "1"


def test_superuser_on_anyones_session(api, admin_ust, alice):
    _, ust = alice
    okay(api.post(SA, {"current_ust": admin_ust, "target_ust": ust, "name": "a", "value": 1}))
    assert get(api, SA, current_ust=ust, name="a")["value"] == 1


def test_superuser_on_an_unknown_session_is_E007001(api, admin_ust):
    body = {"current_ust": admin_ust, "target_ust": "zust-nothing", "name": "a", "value": 1}
    refused(api.post(SA, body), "E007001")


def test_session_attributes_are_gone_after_logout(api, alice):
    _, ust = alice
    okay(api.post(SA, {"current_ust": ust, "name": "a", "value": 1}))
    okay(api.post(LOGOUT, {"ust": ust, "current_app": "CRM"}))
    assert not Attribute.objects.exists()
    refused(api.get(SA, {"current_ust": ust, "name": "a"}), "E007001")


def test_session_attributes_are_invisible_once_the_session_expired(api, alice, clock):
    _, ust = alice
    okay(api.post(SA, {"current_ust": ust, "name": "a", "value": 1}))
    clock.advance(days=2)
    refused(api.get(SA, {"current_ust": ust, "name": "a"}), "E007002")


def test_session_attributes_need_a_current_ust(api, alice):
    refused(api.post(SA, {"name": "a", "value": 1}), "E008003", status=403)


# Limits and malformed input


def test_a_value_over_16_KiB_is_E008002_naming_value(api, alice):
    big = "x" * (MAX_VALUE_LENGTH - 1)  # with its quotes, two characters over
    response = api.post(UA, {"ust": alice[1], "name": "a", "value": big})
    refused(response, "E008002", status=403)
    assert response.json()["details"][0]["field"] == "value"
    okay(api.post(UA, {"ust": alice[1], "name": "a", "value": big[:-1]}))


def test_more_than_100_attributes_is_E009003_and_changes_nothing(api, alice):
    _, ust = alice
    data = [{"name": f"n{i}", "value": i} for i in range(MAX_PER_OWNER)]
    okay(api.post(UA, {"ust": ust, "data": data}))
    refused(api.post(UA, {"ust": ust, "name": "one-more", "value": 1}), "E009003")
    refused(api.call("PUT", UA, {"ust": ust, "name": "one-more", "value": 1}), "E009003")
    assert Attribute.objects.count() == MAX_PER_OWNER
    okay(api.call("PUT", UA, {"ust": ust, "name": "n0", "value": "changed"}))


def test_the_limit_of_100_is_per_session_too(api, alice):
    _, ust = alice
    data = [{"name": f"n{i}", "value": i} for i in range(MAX_PER_OWNER)]
    okay(api.post(SA, {"current_ust": ust, "data": data}))
    refused(api.post(SA, {"current_ust": ust, "name": "x", "value": 1}), "E009003")
    okay(api.post(UA, {"ust": ust, "name": "x", "value": 1}))


@pytest.mark.parametrize("name", ["", "a" * 192, "tab\there", "nul\x00", 5, None])
def test_a_malformed_name_is_E008002(api, alice, name):
    refused(
        api.post(UA, {"ust": alice[1], "name": name, "value": 1, "data": None}),
        *(["E008002"] if name is not None else ["E008003"]),
        # No name at all is a request whose fields do not go together (403), not a bad one.
        status=400 if name is not None else 403,
    )


def test_a_191_character_name_is_taken(api, alice):
    okay(api.post(UA, {"ust": alice[1], "name": "a" * 191, "value": 1}))


def test_neither_name_nor_data_is_E008003(api, alice):
    for method in ("POST", "PATCH", "PUT", "DELETE"):
        refused(api.call(method, UA, {"ust": alice[1]}), "E008003", status=403)
    refused(api.get(UA, {"ust": alice[1]}), "E008003", status=403)
    refused(api.get(UA + "/exists", {"ust": alice[1]}), "E008003", status=403)


def test_create_without_a_value_is_E008003(api, alice):
    response = api.post(UA, {"ust": alice[1], "name": "a"})
    refused(response, "E008003", status=403)
    assert response.json()["details"][0]["field"] == "value"


def test_missing_ust_is_E008003(api, alice):
    refused(api.post(UA, {"name": "a", "value": 1}), "E008003", status=400)


def test_malformed_data_is_E008002(api, alice):
    for data in ([], "a", [{"value": 1}], [{"name": "a", "value": 1, "expiration": "x"}]):
        response = api.post(UA, {"ust": alice[1], "data": data})
        assert response.status_code == 400, (data, response.content)
        assert set(codes(response)) <= {"E008002", "E008003"}
    assert not Attribute.objects.exists()


def test_the_openapi_document_lists_the_attribute_paths(api):
    paths = api.client.get("/api/openapi.json").json()["paths"]
    for prefix in ("user", "session"):
        for tail in ("", "/exists", "/names"):
            assert f"/zato/sso/{prefix}/attr{tail}" in paths
    assert set(paths["/zato/sso/user/attr"]) == {"get", "post", "patch", "put", "delete"}
