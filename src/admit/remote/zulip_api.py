"""The routes a Zulip server calls on its "bouncer", in Zulip's own protocol.

A Zulip server (8.x to 10.x) talks to ``ZULIP_SERVICES_URL`` (``PUSH_NOTIFICATION_BOUNCER_URL``
before 9.0) through ``send_to_push_bouncer`` (``zerver/lib/remote_server.py``): a form body,
some fields holding JSON, HTTP Basic with its ``zulip_org_id`` and ``zulip_org_key``, a
``ZulipServer/<version>`` User-Agent; it reads ``msg`` (and ``code``) of every 4xx answer and
parses no 5xx. ``manage.py register_server`` posts its registration without Basic auth, as a
form (9.x and later) or as a query string (8.x).

``POST /api/v1/remotes/server/register`` is also admit's own call (a JSON body with Basic
auth): a body that is a JSON object is admit's call, anything else Zulip's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qsl

import pydantic
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from ninja import Router

from admit.core.errors import AdmitError, Code, InputError
from admit.core.ratelimit import RateLimited
from admit.http.jsonbody import BODIES_READ_BY_ROUTES, documented_body
from admit.http.requests import caller_of
from admit.http.schemas import ErrorOut, Text
from admit.http.zulip import body_limit, zulip_error, zulip_success
from admit.remote.api import admit_register, basic_credentials
from admit.remote.flows import zulip
from admit.remote.flows.links import (
    LinkRequest,
    RealmDeactivated,
    RealmInfo,
    RealmNotRegistered,
    RealmOfAnotherServer,
    request_login_link,
)
from admit.remote.flows.registry import ServerUnauthorized
from admit.remote.schemas import RegisteredOut, RegisterIn
from admit.remote.zulip_schemas import (
    AnalyticsRow,
    ZulipAnalyticsForm,
    ZulipAnalyticsStatus,
    ZulipAnalyticsTaken,
    ZulipBillingForm,
    ZulipBillingLink,
    ZulipErrorOut,
    ZulipOk,
    ZulipRealm,
    ZulipRegistered,
    ZulipRegisterForm,
    ZulipUser,
)

router = Router(tags=["Zulip servers"])

ZULIP_REFUSALS = {status: ZulipErrorOut for status in (400, 401, 403, 413, 429)}
# The register path answers admit's own JSON call in admit's shape, Zulip's form in Zulip's.
EITHER_REFUSAL = {status: ZulipErrorOut | ErrorOut for status in (400, 401, 403, 413, 429)}
_MAX_FIELDS = 50

_AUTH_FAILURE = (
    "Zulip server auth failure: this zulip_org_id and zulip_org_key are not a registration"
    " in good standing here (unknown, wrong key, or deactivated)"
)
_MISMATCH = (
    "Your organization is registered to a different Zulip server. Please contact the operator"
    " of this service for assistance in resolving this issue."
)


def _form_body(
    model: type[pydantic.BaseModel], also_json: type[pydantic.BaseModel] | None = None
) -> dict[str, Any]:
    """The ``openapi_extra`` of a route that reads ``model`` as a form body."""
    BODIES_READ_BY_ROUTES.append(model)
    form = {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
    content: dict[str, Any] = {"application/x-www-form-urlencoded": form}
    if also_json is not None:
        content |= documented_body(also_json)["requestBody"]["content"]
    return {"requestBody": {"content": content, "required": True}}


Form = TypeVar("Form", bound=pydantic.BaseModel)


class _Fields(Generic[Form]):
    """The form's fields (the query string's, then the body's: the body wins), validated as
    ``model``. Fields a Zulip version sends that admit does not read are read past and named
    in the answer's ``ignored_parameters_unsupported``, as Zulip itself answers."""

    def __init__(self, request: HttpRequest, model: type[Form]):
        query = [(name, request.GET[name]) for name in request.GET]
        body = _multipart(request) if request.content_type == "multipart/form-data" else None
        if body is None:
            body = _urlencoded(request)
        values = dict([*query, *body])
        self.ignored = sorted(set(values) - set(model.model_fields))
        known = {name: value for name, value in values.items() if name in model.model_fields}
        try:
            self.form = model.model_validate(known)
        except pydantic.ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            name = str(first["loc"][0])
            if first["type"] == "missing" or known.get(name) == "":
                raise _bad(name, "is missing", f"Missing '{name}' argument") from exc
            raise _bad(name, str(first["msg"])) from exc

    def answer(self, **data: object) -> HttpResponse:
        if self.ignored:
            data["ignored_parameters_unsupported"] = self.ignored
        return zulip_success(**data)


def _urlencoded(request: HttpRequest) -> list[tuple[str, str]]:
    """The body as Zulip sends it (``requests``' ``data=`` a dict), read by hand: an analytics
    upload is larger than Django's ``request.POST`` takes on any other route."""
    limit = body_limit(request.path)
    raw = request.read(limit + 1)
    if len(raw) > limit:
        raise _bad("body", f"is larger than {limit} bytes")
    try:
        return parse_qsl(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=_MAX_FIELDS)
    except (UnicodeDecodeError, ValueError) as exc:
        raise _bad("body", f"is not a UTF-8 form of at most {_MAX_FIELDS} fields") from exc


def _multipart(request: HttpRequest) -> list[tuple[str, str]]:
    """A multipart form (Zulip does not send one; other clients may), through Django."""
    try:
        return [(name, request.POST[name]) for name in request.POST]
    except (RequestDataTooBig, TooManyFieldsSent, MultiPartParserError) as exc:
        raise _bad("body", "is not a form admit can read") from exc


class FormError(InputError):
    """The form itself is malformed: found before any flow ran (``_zulip``)."""


def _bad(field: str, problem: str, msg: str = "") -> InputError:
    return FormError(
        Code.INPUT_INVALID,
        msg or f"Invalid {field}: {problem}",
        details=[{"field": field, "problem": problem}],
    )


def _json_field(name: str, text: str | None, model: Any) -> Any:
    """A form field that holds JSON (pydantic's ``Json[...]`` in Zulip's views)."""
    if text is None:
        return None
    try:
        return pydantic.TypeAdapter(model).validate_json(text)
    except pydantic.ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        problem = f"{where + ': ' if where else ''}{first.get('msg', 'invalid')}"
        raise _bad(name, problem) from exc


def _refusal(error: AdmitError) -> HttpResponse:
    """A refusal in Zulip's shape, with Zulip's code where Zulip has one."""
    if isinstance(error, ServerUnauthorized):
        return zulip_error(401, "UNAUTHORIZED", _AUTH_FAILURE)
    if isinstance(error, zulip.KeyMismatch):
        msg = f"Zulip server auth failure: key does not match role {error.server_uuid}"
        return zulip_error(400, "INVALID_ZULIP_SERVER", msg, role=error.server_uuid)
    if isinstance(error, RealmOfAnotherServer):
        return zulip_error(403, "REMOTE_REALM_SERVER_MISMATCH_ERROR", _MISMATCH)
    if isinstance(error, RealmNotRegistered):
        return zulip_error(403, "MISSING_REMOTE_REALM", "Organization not registered")
    if isinstance(error, RealmDeactivated):
        msg = "This organization's registration is deactivated on this service."
        return zulip_error(403, "REMOTE_REALM_DEACTIVATED", msg)
    if isinstance(error, zulip.RegistrationClosed):
        msg = (
            "This service registers only the Zulip servers its operator added: ask them to run"
            " `admit remote-servers add` with this server's zulip_org_id and zulip_org_key."
        )
        return zulip_error(403, "REGISTRATION_CLOSED", msg)
    if isinstance(error, RateLimited):
        response = zulip_error(
            429,
            "RATE_LIMIT_HIT",
            "API usage exceeded rate limit",
            **{"retry-after": error.retry_after},
        )
        response["Retry-After"] = str(error.retry_after)
        return response
    if isinstance(error, InputError):
        field = error.details[0]["field"] if len(error.details) == 1 else None
        if field is None:
            return zulip_error(400, "BAD_REQUEST", error.message)
        msg = error.message if field in error.message else f"{field}: {error.message}"
        return zulip_error(400, "BAD_REQUEST", msg, var_name=field)
    return zulip_error(403, "BAD_REQUEST", "Refused.")  # pragma: no cover - every kind above


def _zulip(
    request: HttpRequest,
    handle: Callable[[], HttpResponse],
    credentials: tuple[str, str, str] | None = None,
) -> HttpResponse:
    """``handle``'s answer, or its refusal in Zulip's shape. With ``credentials`` (the server's
    uuid, key, and the call's audit event), a malformed form is refused only once the
    credentials are good: Zulip's bouncer authenticates before it reads a form."""
    try:
        try:
            return handle()
        except FormError as error:
            if credentials is None:
                raise
            server_uuid, key, event = credentials
            zulip.refuse_input(server_uuid, key, event, error, caller_of(request))
            raise  # pragma: no cover - refuse_input always raises
    except AdmitError as error:
        return _refusal(error)


@router.post(
    "server/billing",
    response={200: ZulipBillingLink, **ZULIP_REFUSALS},
    summary="Zulip: a signed log-in link for a realm's admin (remote_realm_billing_entry)",
    description="HTTP Basic with zulip_org_id and zulip_org_key. A realm seen for the first"
    " time is registered from the request's realm fields.",
    openapi_extra=_form_body(ZulipBillingForm),
)
def billing(request: HttpRequest) -> HttpResponse:
    server_uuid, key = basic_credentials(request)

    def handle() -> HttpResponse:
        fields = _Fields(request, ZulipBillingForm)
        form = fields.form
        user = _json_field("user", form.user, ZulipUser)
        realm = _json_field("realm", form.realm, ZulipRealm)
        link = LinkRequest(
            user_uuid=user.uuid,
            email=user.email,
            full_name=user.full_name,
            realm=RealmInfo(realm.uuid, realm.host, realm.name, realm.org_type),
            uri_scheme=form.uri_scheme,
            next_page=form.next_page,
        )
        url = request_login_link(server_uuid, key, link, caller_of(request))
        return fields.answer(billing_access_url=url)

    return _zulip(request, handle, (server_uuid, key, "remote.login_link"))


@router.post(
    "server/register",
    response={200: ZulipRegistered | RegisteredOut, **EITHER_REFUSAL},
    summary="Zulip: register or update a server (register_server); admit: report the realms",
    description="A form (or, as Zulip 8 sends it, a query string) is Zulip's registration:"
    " no auth; a new zulip_org_id is taken only with [remote] allow_self_registration, a known"
    " one must come with its key, and new_org_key rotates it. A JSON object is admit's own"
    " call: HTTP Basic, the server's version and realms, answered in admit's shape.",
    openapi_extra=_form_body(ZulipRegisterForm, also_json=RegisterIn),
)
def register(request: HttpRequest) -> HttpResponse:
    if request.body.lstrip()[:1] == b"{":
        return admit_register(request)

    def handle() -> HttpResponse:
        fields = _Fields(request, ZulipRegisterForm)
        form = fields.form
        registration = zulip.ServerRegistration(
            org_id=form.zulip_org_id,
            org_key=form.zulip_org_key,
            hostname=form.hostname,
            contact_email=form.contact_email,
            new_org_key=form.new_org_key or None,
        )
        created = zulip.register_server(registration, caller_of(request))
        return fields.answer(created=created)

    return _zulip(request, handle)


@router.get(
    "server/analytics/status",
    response={200: ZulipAnalyticsStatus, **ZULIP_REFUSALS},
    summary="Zulip: the last analytics rows received (remote_server_check_analytics)",
)
def analytics_status(request: HttpRequest) -> HttpResponse:
    def handle() -> HttpResponse:
        server_uuid, key = basic_credentials(request)
        return zulip_success(**zulip.analytics_status(server_uuid, key, caller_of(request)))

    return _zulip(request, handle)


@router.post(
    "server/analytics",
    response={200: ZulipAnalyticsTaken, **ZULIP_REFUSALS},
    summary="Zulip: the server's realms, in its analytics upload (remote_server_post_analytics)",
    description="admit registers and updates the realms and keeps the highest row id of each"
    " table, not the rows. Every realm is answered with can_push false: admit relays no push"
    " notification.",
    openapi_extra=_form_body(ZulipAnalyticsForm),
)
def analytics(request: HttpRequest) -> HttpResponse:
    server_uuid, key = basic_credentials(request)

    def handle() -> HttpResponse:
        fields = _Fields(request, ZulipAnalyticsForm)
        form = fields.form
        rows = list[AnalyticsRow]
        realms = _json_field("realms", form.realms, list[ZulipRealm])
        upload = zulip.AnalyticsUpload(
            realm_count_ids=[
                row.id for row in _json_field("realm_counts", form.realm_counts, rows)
            ],
            installation_count_ids=[
                row.id for row in _json_field("installation_counts", form.installation_counts, rows)
            ],
            realmauditlog_ids=[
                row.id
                for row in _json_field("realmauditlog_rows", form.realmauditlog_rows, rows) or []
            ],
            realms=None
            if realms is None
            else [
                zulip.ReportedRealm(
                    uuid=realm.uuid,
                    host=realm.host,
                    name=realm.name,
                    org_type=realm.org_type,
                    deactivated=realm.deactivated,
                    is_system_bot_realm=realm.is_system_bot_realm,
                )
                for realm in realms
            ],
            version=_json_field("version", form.version, Text | None),
            api_feature_level=_json_field(
                "api_feature_level", form.api_feature_level, pydantic.NonNegativeInt | None
            ),
        )
        kept = zulip.upload_analytics(server_uuid, key, upload, caller_of(request))
        return fields.answer(
            realms={
                str(realm_uuid): {"can_push": False, "expected_end_timestamp": None}
                for realm_uuid in kept
            }
        )

    return _zulip(request, handle, (server_uuid, key, "remote.server.analytics"))


@router.post(
    "server/deactivate",
    response={200: ZulipOk, **ZULIP_REFUSALS},
    summary="Zulip: the server ends its own registration (register_server --deactivate)",
)
def deactivate(request: HttpRequest) -> HttpResponse:
    def handle() -> HttpResponse:
        server_uuid, key = basic_credentials(request)
        zulip.deactivate_own_registration(server_uuid, key, caller_of(request))
        return zulip_success()

    return _zulip(request, handle)
