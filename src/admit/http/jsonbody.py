"""Reading a JSON request body the way the seed's curl examples send it.

Those examples post JSON with curl's default form content type and sometimes end an object
with a trailing comma, so the body is read as JSON whatever its Content-Type says, and a
comma before a closing brace or bracket is forgiven. A hot route may read its body, and write
its answer, itself (``read_body``, ``answer``).
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

import pydantic
from django.http import HttpRequest, HttpResponse
from django.utils.datastructures import MultiValueDict
from ninja.errors import ValidationError
from ninja.parser import Parser

from admit.core.errors import Code, InputError


def _drop_trailing_commas(text: str) -> str:
    out: list[str] = []
    in_string = escaped = False
    pending_comma: str | None = None
    for char in text:
        if in_string:
            out.append(char)
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
            continue
        if pending_comma is not None:
            if char.isspace():
                pending_comma += char
                continue
            if char not in "}]":
                out.append(pending_comma)
            else:
                out.append(pending_comma[1:])
            pending_comma = None
        if char == ",":
            pending_comma = char
            continue
        if char == '"':
            in_string = True
        out.append(char)
    if pending_comma is not None:
        out.append(pending_comma)
    return "".join(out)


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object; an empty body is an empty object."""
    if not raw.strip():
        return {}
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(Code.INPUT_INVALID, "request body is not UTF-8") from exc
    try:
        try:
            document = json.loads(text)
        except json.JSONDecodeError:
            document = json.loads(_drop_trailing_commas(text))
    except json.JSONDecodeError as exc:
        raise InputError(
            Code.INPUT_INVALID,
            "request body is not valid JSON",
            [{"field": "body", "problem": f"not valid JSON: {exc.msg} at line {exc.lineno}"}],
        ) from exc
    except RecursionError as exc:
        raise InputError(
            Code.INPUT_INVALID,
            "request body is nested too deeply",
            [{"field": "body", "problem": "nested too deeply"}],
        ) from exc
    if not isinstance(document, dict):
        raise InputError(
            Code.INPUT_INVALID,
            "request body must be a JSON object",
            [{"field": "body", "problem": "must be a JSON object"}],
        )
    return document


def request_values(request: HttpRequest) -> dict[str, Any]:
    """Parameters may come in the query string, the JSON body, or both ("there is no
    difference"): the body is read whatever the Content-Type, and the two sources are merged,
    the body winning where both name the same field."""
    return {**_single_values(request.GET), **parse_json_object(request.body)}


class AdmitParser(Parser):
    """django-ninja's parser, made to read requests the way the seed sends them
    (``request_values``) for every operation."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        return request_values(request)

    def parse_querydict(
        self, data: MultiValueDict, list_fields: list[str], request: HttpRequest
    ) -> dict[str, Any]:
        values = super().parse_querydict(data, list_fields, request)
        if data is request.GET:
            values = {**values, **parse_json_object(request.body)}
        return values


def _single_values(query: MultiValueDict) -> dict[str, Any]:
    return {key: query[key] for key in query}


Body = TypeVar("Body", bound=pydantic.BaseModel)

# The models that routes read with ``read_body``, for the OpenAPI document's components.
BODIES_READ_BY_ROUTES: list[type[pydantic.BaseModel]] = []


def read_body(request: HttpRequest, model: type[Body]) -> Body:
    """``model`` validated from ``request_values``, for a hot route that reads its body itself.

    django-ninja's own body parameter wraps the body in a model of the operation's parameters
    and validates it through that: a measurable part of a cheap request's time
    (docs/benchmarks.md). The busiest routes (sign-up, log-in, session verify, link request)
    read their bodies here; the OpenAPI document and the answers stay the same.
    Invalid input raises ninja's ``ValidationError``, so the error envelope is the same as for
    every other route.
    """
    try:
        return model.model_validate(request_values(request))
    except pydantic.ValidationError as exc:
        raise ValidationError([dict(error) for error in exc.errors(include_url=False)]) from exc


def documented_body(model: type[pydantic.BaseModel]) -> dict[str, Any]:
    """The ``openapi_extra`` of a route that reads ``model`` with ``read_body``: the request
    body django-ninja would have documented for a ``model`` parameter."""
    BODIES_READ_BY_ROUTES.append(model)
    schema = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"requestBody": {"content": {"application/json": {"schema": schema}}, "required": True}}


def answer(body: pydantic.BaseModel) -> HttpResponse:
    """``body`` as the 200 answer of a route that reads its own body, without its fields that
    are None, byte for byte as django-ninja renders every other answer, without ninja's
    validation of a model it would build anew and its copy of a response made ahead."""
    content = json.dumps(body.model_dump(mode="json", exclude_none=True))
    return HttpResponse(content, content_type="application/json; charset=utf-8")
