"""The JSON API: one django-ninja instance, one OpenAPI document at /api/openapi.json.

Every error leaves in the envelope ``{"status": "error", "sub_status": [...], "cid": ...}``:
domain refusals (403), malformed input (400), and anything the framework itself refuses.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pydantic
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import HttpError, ValidationError
from ninja.openapi.schema import OpenAPISchema
from ninja.schema import NinjaGenerateJsonSchema

from admit.core.errors import AdmitError, Code, InputError
from admit.core.ratelimit import RateLimited
from admit.http.envelope import error_response
from admit.http.error_table import markdown_tables
from admit.http.jsonbody import BODIES_READ_BY_ROUTES, AdmitParser
from admit.http.requests import cid_of
from admit.http.statuses import api_status
from admit.remote.api import router as remote_router
from admit.remote.zulip_api import router as zulip_router
from admit.sso.api import router as sso_router
from admit.sso.disclosure import visible_codes

log = logging.getLogger("admit.api")


class AdmitAPI(NinjaAPI):
    def get_openapi_schema(self, **kwargs: Any) -> OpenAPISchema:
        """django-ninja's document, with the schemas of the bodies that routes read themselves
        (``admit.http.jsonbody.read_body``) among its components."""
        schema = super().get_openapi_schema(**kwargs)
        components = schema["components"]["schemas"]
        for model in _in_route_order(BODIES_READ_BY_ROUTES, schema["paths"]):
            model_schema = model.model_json_schema(
                ref_template="#/components/schemas/{model}",
                schema_generator=NinjaGenerateJsonSchema,  # as django-ninja's own
            )
            components.update(model_schema.pop("$defs", {}))
            components[model.__name__] = model_schema
        _standard_bounds(schema)
        _add_examples(schema)
        return schema


# The examples of the document's requests (what /api/docs fills its forms with): the seed's
# (docs/api.md's walk-through), by field name. The tokens and ids are made up; a real call
# takes those of one's own log-in and sign-ups (a super-user's ``ust`` for approve and
# reject). tests/http/test_openapi_contract.py checks each against its schema.
UST = "zust1a799f00d3a147f088bb83bdfe76761c"
FIELD_EXAMPLES: dict[str, Any] = {
    "username": "user1",
    "password": "VrF57-H31 7!HIj%fSAz :L9",
    "email": "user1@example.com",
    "current_app": "CRM",
    "app_list": ["CRM", "ERP"],
    "display_name": "John Doe",
    "first_name": "John",
    "middle_name": "Q.",
    "last_name": "Doe",
    "remote_addr": "mysystem.company",
    "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
    "confirm_token": "zcnt8538ba1f6bef475a8fee1fc8cee65dac",
    "ust": UST,
    "current_ust": UST,
    "target_ust": "zust6f0e2d4c8b9a41e7a5d3c2b1f0e9d8c7",
    "user_id": "zusrqgh3au1pt4b7r5rz",
    "reason": "Information for user why this account has been rejected",
    "status": "to-approve",
    "totp_code": "123456",
    "totp_key": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
    "totp_label": "user1 at CRM",
    "old_password": "VrF57-H31 7!HIj%fSAz :L9",
    "new_password": "Seven swallows over the plum tree",
    "credential": "user1@example.com",
    "token": "zcnt0d6c3e9f2a5b48c7a1e4f6b8d0c2a9e3",
    "reset_key": "zcnt5f1e8d2c6b3a49e7d0c4b8a2f6e1d9c3",
    "password_expiry": 90,
    "must_change": False,
    "name": "preferences",
    "value": {"theme": "dark"},
    "expiration": 3600,
    "encrypt": False,
    "decrypt": True,
    "version": "9.1",
}
_ZULIP_REALM = {
    "id": 2,
    "host": "chat.example.org",
    "url": "https://chat.example.org",
    "name": "Example Org",
    "org_type": 10,
    "date_created": 1700000000.0,
    "deactivated": False,
    "is_system_bot_realm": False,
    "authentication_methods": {"Email": True},
    "uuid": "6e2f1b4a-9d3c-4f8e-a7b5-2c1d0e9f8a3b",
    "uuid_owner_secret": "zuliprealm_8c2d4e6f8a0b2c4d6e8f0a2b4c6d8e0f",
}
# Where a field of one schema means something else than the name says elsewhere.
SCHEMA_EXAMPLES: dict[str, dict[str, Any]] = {
    "LoginIn": {"username": "boss", "password": "Correct-Horse-Battery-42"},
    "UpdateUserIn": {"display_name": "John Q. Doe", "password_expiry": "2027-06-30T00:00:00+00:00"},
    "RemoteUserIn": {
        "uuid": "0d8a7c3e-5b1f-4e2a-9c6d-3f4b8e1a2c7d",
        "email": "iago@chat.example.com",
        "full_name": "Iago",
    },
    "RemoteRealmIn": {
        "uuid": "6e2f1b4a-9d3c-4f8e-a7b5-2c1d0e9f8a3b",
        "host": "chat.example.com",
        "name": "Example",
        "org_type": 10,
    },
    # A Zulip server's forms, as its own code fills them (docs/remote.md).
    "ZulipRegisterForm": {
        "zulip_org_id": "6cde5f7a-3b2e-4c1d-9f8e-7a6b5c4d3e2f",
        "zulip_org_key": "Vb3rQ9xK2mN7pL4sT8wY1zC6dF0gH5jAe2R7tU9iO3pS6dF1gH8jK4lZ0xC5vB2n",
        "hostname": "chat.example.org",
        "contact_email": "ops@example.org",
    },
    "ZulipBillingForm": {
        "user": json.dumps(
            {
                "uuid": "0d8a7c3e-5b1f-4e2a-9c6d-3f4b8e1a2c7d",
                "email": "iago@chat.example.org",
                "full_name": "Iago",
            }
        ),
        "realm": json.dumps(_ZULIP_REALM),
        "uri_scheme": "https://",
        "next_page": "billing",
    },
    "ZulipAnalyticsForm": {
        "realm_counts": "[]",
        "installation_counts": "[]",
        "realms": json.dumps([_ZULIP_REALM]),
        "version": json.dumps("10.1"),
        "api_feature_level": "359",
    },
}
# A body's example holds its required fields, and these optional ones (the seed's sign-up is
# the seed's example word for word). Others are left out: some do not go together (``ust``
# and ``current_ust``; ``name`` and ``data``), and a body of every field reads as one call.
OPTIONAL_IN_EXAMPLE: dict[str, tuple[str, ...]] = {
    "SignupIn": ("email", "app_list"),
    "RejectIn": ("reason",),
    "LoginIn": ("password",),
    "VerifyIn": ("target_ust",),
    "CreateUserIn": ("email", "password", "display_name", "auto_approve"),
    "UpdateUserIn": ("display_name",),
    "PasswordIn": ("old_password",),
    "TotpIn": ("totp_label",),
    "UserAttrIn": ("name", "value", "expiration"),
    "SessionAttrIn": ("current_ust", "name", "value", "expiration"),
    "UserAttrDeleteIn": ("name",),
    "SessionAttrDeleteIn": ("current_ust", "name"),
    "SearchIn": ("username",),
    "RemoteUserIn": ("full_name",),
    "RemoteRealmIn": ("name", "org_type"),
    "RegisterIn": ("version", "realms"),
    "ZulipBillingForm": ("uri_scheme", "next_page"),
    "ZulipAnalyticsForm": ("realms", "version", "api_feature_level"),
}
# The same for a GET's query parameters, by path.
OPTIONAL_PARAMETERS_IN_EXAMPLE: dict[str, tuple[str, ...]] = {
    "/zato/sso/user/session": ("target_ust",),
    "/zato/sso/user/session/list": ("ust",),
    "/zato/sso/user/attr": ("name",),
    "/zato/sso/user/attr/exists": ("name",),
    "/zato/sso/session/attr": ("current_ust", "name"),
    "/zato/sso/session/attr/exists": ("current_ust", "name"),
    "/zato/sso/session/attr/names": ("current_ust",),
}


def _add_examples(schema: dict[str, Any]) -> None:
    """An example for every request body and required query parameter, and for each field of
    the bodies' schemas that has one, so that /api/docs offers the seed's values, not the
    bare "string" it makes up from a field's type."""
    components = schema["components"]["schemas"]
    for path, methods in schema["paths"].items():
        optional = OPTIONAL_PARAMETERS_IN_EXAMPLE.get(path, ())
        for operation in methods.values():
            for parameter in operation.get("parameters", ()):
                wanted = parameter.get("required") or parameter["name"] in optional
                if wanted and parameter["name"] in FIELD_EXAMPLES:
                    parameter["example"] = FIELD_EXAMPLES[parameter["name"]]
            for body in operation.get("requestBody", {}).get("content", {}).values():
                ref = body.get("schema", {}).get("$ref", "")
                if ref:
                    body["example"] = _example_of(ref, components)


def _example_of(ref: str, components: dict[str, Any]) -> dict[str, Any]:
    """The example of the body schema ``ref`` (see ``OPTIONAL_IN_EXAMPLE``); on the way, each
    of its fields with an example value gets it as its ``examples``."""
    name = ref.rsplit("/", 1)[1]
    model = components[name]
    wanted = {*model.get("required", ()), *OPTIONAL_IN_EXAMPLE.get(name, ())}
    example: dict[str, Any] = {}
    for field, spec in model.get("properties", {}).items():
        value = SCHEMA_EXAMPLES.get(name, {}).get(field, FIELD_EXAMPLES.get(field))
        items = spec.get("items", {}).get("$ref", "")
        if spec.get("$ref"):
            value = _example_of(spec["$ref"], components)
        elif items:
            value = [_example_of(items, components)]
        elif value is not None:
            spec.setdefault("examples", [value])
        if field in wanted and value is not None:
            example[field] = value
    return example


# pydantic writes the bounds of a nullable whole number (``WholeNumber | None``, whose
# validator runs before the type check) under its own names; JSON Schema's are these.
_BOUNDS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}


def _standard_bounds(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("type") in ("integer", "number"):
            for pydantic_name, name in _BOUNDS.items():
                if pydantic_name in node:
                    node[name] = node.pop(pydantic_name)
        for value in node.values():
            _standard_bounds(value)
    elif isinstance(node, list):
        for value in node:
            _standard_bounds(value)


def _in_route_order(
    models: list[type[pydantic.BaseModel]], paths: dict[str, Any]
) -> list[type[pydantic.BaseModel]]:
    """``models`` in the order of the first route that reads each, so that the document does
    not change with the order in which the API's modules happen to be imported."""
    refs = [
        operation.get("requestBody", {})
        .get("content", {})
        .get("application/json", {})
        .get("schema", {})
        .get("$ref")
        for methods in paths.values()
        for operation in methods.values()
    ]

    def position(model: type[pydantic.BaseModel]) -> int:
        ref = f"#/components/schemas/{model.__name__}"
        return refs.index(ref) if ref in refs else len(refs)

    return sorted(models, key=position)


DESCRIPTION = f"""\
Sign-up, confirmation, approval and sign-in: Zato's SSO REST API under `/zato/sso/`, and the
log-in links of remote servers under `/api/v1/remotes/`.

A body is read as JSON whatever its `Content-Type`; every parameter may come in the query
string, the body, or both (the body wins). Every answer carries a `cid`, also in the
`X-Correlation-ID` header.

**The examples are the seed's walk-through, with made-up tokens and ids: replace them with
yours.** `ust` is the token your log-in (`POST /zato/sso/user/login`) returned — a super-user's
for the approval queue, approve and reject — `user_id` comes from the queue
(`GET /zato/sso/user/signup`), `confirm_token` from the sign-up or its e-mail. A copied
example token answers `E007001` (no such session) or `E005006` (no such confirm token).

## Errors

Every error has one shape: `{{"status": "error", "sub_status": ["E001002"], "cid": "…"}}`, with
`details` (`[{{"field", "problem"}}]`) on HTTP 400. A sign-up names every problem at once, e.g.
`["E001002", "E003001"]`; a code the policy hides collapses into `E005001`.

{markdown_tables()}
"""

api = AdmitAPI(
    title="admit",
    version="1",
    description=DESCRIPTION,
    parser=AdmitParser(),
    openapi_url="api/openapi.json",
    docs_url="api/docs",
    urls_namespace="api",
)
api.add_router("zato/sso/", sso_router)
api.add_router("api/v1/remotes/", remote_router)
api.add_router("api/v1/remotes/", zulip_router)  # Zulip's protocol: admit.remote.zulip_api


@api.exception_handler(AdmitError)
def on_admit_error(request: HttpRequest, exc: AdmitError) -> HttpResponse:
    log.info("cid=%s refused %s: %s", cid_of(request), ",".join(exc.codes), exc.message)
    details = exc.details if isinstance(exc, InputError) else None
    codes = exc.codes if isinstance(exc, InputError) else visible_codes(exc)
    status = api_status(exc)
    response = error_response(cid_of(request), codes, status, details)
    if isinstance(exc, RateLimited):
        response["Retry-After"] = str(exc.retry_after)
    if status == 401:
        response["WWW-Authenticate"] = 'Basic realm="admit"'  # RFC 9110: a 401 names its scheme
    return response


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    details = []
    missing = invalid = False
    for error in exc.errors:
        location = [
            str(part)
            for part in error.get("loc", ())
            if part not in ("body", "query", "payload", "filters")
        ]
        is_missing = error.get("type") == "missing"
        missing |= is_missing
        invalid |= not is_missing
        details.append(
            {"field": ".".join(location) or "body", "problem": str(error.get("msg", "invalid"))}
        )
    codes = ([Code.INPUT_MISSING] if missing else []) + ([Code.INPUT_INVALID] if invalid else [])
    return error_response(cid_of(request), codes, 400, details)


@api.exception_handler(OperationalError)
@api.exception_handler(InterfaceError)
def on_database_unreachable(request: HttpRequest, exc: Exception) -> HttpResponse:
    """The database went away (restarted, network cut). Django drops the broken connection at
    the end of this request and the next one connects afresh, so the caller may retry."""
    log.error("cid=%s database unreachable: %s", cid_of(request), type(exc).__name__)
    response = error_response(cid_of(request), [Code.SERVICE_UNAVAILABLE], 503)
    response["Retry-After"] = "1"
    return response


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    cause = exc.__cause__
    if isinstance(cause, InputError):
        return on_admit_error(request, cause)
    return error_response(
        cid_of(request),
        [Code.INPUT_INVALID],
        exc.status_code,
        [{"field": "request", "problem": str(exc)}],
    )
