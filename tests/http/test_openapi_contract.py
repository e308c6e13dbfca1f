"""What the OpenAPI document admits, the API accepts; what the API refuses, the document
says (the contract schemathesis checks in CI: tests/fuzz)."""

from __future__ import annotations

import pytest
from django.test import Client

from admit.core.context import Caller
from admit.remote.flows.registry import add_server
from tests.conftest import codes, refused
from tests.remote.conftest import Server, link_body, request_link

pytestmark = pytest.mark.django_db

SEARCH = "/zato/sso/user/search"
TOTP = "/zato/sso/user/totp"


def test_a_whole_number_written_with_a_fraction_is_an_integer(api, admin_ust):
    assert (
        api.post(SEARCH, {"ust": admin_ust, "cur_page": 1.0, "page_size": 5.0}).status_code == 200
    )
    for wrong in ("1", 1.5, True):
        refused(api.post(SEARCH, {"ust": admin_ust, "cur_page": wrong}), "E008002", status=400)


def test_org_type_as_a_whole_float(client: Client, server: Server):
    body = link_body()
    body["realm"]["org_type"] = 10.0
    assert request_link(client, server, body).status_code == 200


@pytest.fixture
def server(db) -> Server:
    made = add_server("chat.example.com", "ops@example.com", Caller())
    return Server(str(made.server.uuid), made.key)


def test_next_page_names_are_the_documents_enum(client: Client, settings):
    schema = client.get("/api/openapi.json").json()
    field = schema["components"]["schemas"]["LoginLinkIn"]["properties"]["next_page"]
    assert field["enum"] == [*sorted(settings.ADMIT_POLICY.remote.next_pages), None]


def test_an_unknown_next_page_is_refused_with_the_field_named(client: Client, server: Server):
    response = request_link(client, server, link_body(next_page=""))
    assert response.status_code == 400 and codes(response) == ["E008002"]
    assert response.json()["details"][0]["field"] == "next_page"


@pytest.mark.parametrize("length", [26, 27, 33])
def test_any_base32_key_of_128_bits_or_more_is_taken(api, admin_ust, length):
    key = ("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567" * 2)[:length]
    response = api.call("PATCH", TOTP, {"ust": admin_ust, "totp_key": key.lower()})
    assert response.status_code == 200, response.content
    assert response.json()["totp_key"].startswith(key)


def test_a_shorter_key_is_refused_as_the_document_says(api, admin_ust):
    response = api.call("PATCH", TOTP, {"ust": admin_ust, "totp_key": "A" * 25})
    refused(response, "E008002", status=400)
    assert response.json()["details"][0]["field"] == "totp_key"


def test_each_kind_of_refusal_has_its_status_in_the_adapter_alone():
    """Flows raise kinds of refusal; admit.http.statuses maps them, so no AdmitError carries
    an HTTP status of its own."""
    from admit.core.errors import AdmitError, Code, InputError, NotFound, Unauthenticated
    from admit.core.ratelimit import RateLimited
    from admit.http.statuses import api_status, page_status

    kinds = {
        AdmitError(Code.NOT_ALLOWED, "refused"): (403, 400),
        InputError(Code.INPUT_INVALID, "bad"): (400, 400),
        Unauthenticated(Code.NOT_ALLOWED, "who?"): (401, 400),
        NotFound(Code.NOT_ALLOWED, "gone"): (404, 400),
        RateLimited(5, "too many"): (429, 429),
    }
    for error, (api, page) in kinds.items():
        assert (api_status(error), page_status(error)) == (api, page), error
        assert not hasattr(error, "http_status")


def test_bounds_of_nullable_numbers_are_json_schemas_own(api):
    """pydantic names a nullable whole number's bounds ge/le; a client (and schemathesis)
    reads only minimum/maximum, and would send numbers the API then refuses."""
    text = api.get("/api/openapi.json").content.decode()
    assert '"ge":' not in text and '"le":' not in text and '"gt":' not in text
    assert '"exclusiveMinimum": 0' in text  # an attribute's expiration, nullable
