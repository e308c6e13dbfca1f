"""The JSON API: one django-ninja instance, one OpenAPI document at /api/openapi.json.

Every error leaves in the envelope ``{"status": "error", "sub_status": [...], "cid": ...}``:
domain refusals (403), malformed input (400), and anything the framework itself refuses.
"""

from __future__ import annotations

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
        return schema


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


api = AdmitAPI(
    title="admit",
    version="1",
    description="Sign-up, confirmation, approval and sign-in. Errors: see docs/api.md.",
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
