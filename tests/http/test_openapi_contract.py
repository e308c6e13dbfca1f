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


# The OpenAPI document's examples and description: what /api/docs shows a newcomer.


def _document(api) -> dict:
    return api.get("/api/openapi.json").json()


def _validator(document: dict, schema: dict):
    import jsonschema_rs  # schemathesis's validator (the dev extra)

    rooted = {**schema, "components": document["components"]}
    return jsonschema_rs.Draft202012Validator(rooted, validate_formats=True)


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []


def _operations(document: dict):
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield f"{method.upper()} {path}", operation


def test_every_request_body_has_a_real_example_valid_for_its_schema(api):
    document = _document(api)
    bodies = 0
    for name, operation in _operations(document):
        if "requestBody" not in operation:
            continue
        # A JSON body, a form (Zulip's calls), or both (the register path takes either).
        for media, content in operation["requestBody"]["content"].items():
            example = content.get("example")
            assert example, f"{name} {media}: no example"
            validator = _validator(document, content["schema"])
            errors = [e.message for e in validator.iter_errors(example)]
            assert not errors, (name, media, example, errors)
            assert "string" not in _strings(example), (name, example)
            bodies += 1
    assert bodies > 30


def test_every_field_example_and_parameter_example_fits_its_schema(api):
    document = _document(api)
    fields = 0
    for component, model in document["components"]["schemas"].items():
        for field, spec in model.get("properties", {}).items():
            for example in spec.get("examples", ()):
                assert _validator(document, spec).is_valid(example), (component, field, example)
                assert example != "string"
                fields += 1
    assert fields > 50
    for name, operation in _operations(document):
        for parameter in operation.get("parameters", ()):
            if "example" in parameter:
                valid = _validator(document, parameter["schema"]).is_valid(parameter["example"])
                assert valid, (name, parameter)
            if parameter.get("required"):
                assert parameter.get("example") not in (None, "string"), (name, parameter["name"])


def test_the_sign_up_example_is_the_seeds_and_it_works(api):
    document = _document(api)
    operation = document["paths"]["/zato/sso/user/signup"]["post"]
    example = operation["requestBody"]["content"]["application/json"]["example"]
    assert example == {
        "username": "user1",
        "password": "VrF57-H31 7!HIj%fSAz :L9",
        "email": "user1@example.com",
        "current_app": "CRM",
        "app_list": ["CRM", "ERP"],
    }
    assert api.post("/zato/sso/user/signup", example).status_code == 200
    approve = document["paths"]["/zato/sso/user/signup/approve"]["post"]
    assert "ust" in approve["requestBody"]["content"]["application/json"]["example"]


def test_the_description_holds_the_error_tables_word_for_word_as_docs_api_md(api):
    from pathlib import Path

    from admit.core.errors import Code
    from admit.http.error_table import CODES, markdown_tables

    description = _document(api)["info"]["description"]
    assert "docs/api.md" not in description  # a path in a repository the reader may not have
    assert markdown_tables() in description
    assert {code for code, _, _ in CODES} == {code.value for code in Code} | {
        "E003008",
        "E006002",
    }  # named, unused
    for code in Code:
        assert f"| {code.value} | " in description
    docs = (Path(__file__).parents[2] / "docs" / "api.md").read_text()
    for row in markdown_tables().splitlines():
        assert row in docs.splitlines(), f"docs/api.md lacks the row {row!r}"
    assert "replace them" in description  # the examples' tokens are not the reader's
