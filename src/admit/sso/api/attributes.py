"""/zato/sso/user/attr and /zato/sso/session/attr, with /exists and /names: the same seven
routes for both owners, made by ``_routes``.

No ``from __future__ import annotations`` here: the routes' parameter types are the owner's
schemas, local to ``_routes``, which django-ninja must see as classes, not as names.
"""

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router

from admit.core.errors import Code, InputError, RefusedByRule
from admit.http.requests import caller_of
from admit.http.schemas import ERRORS, utc
from admit.sso.api.common import ok
from admit.sso.attribute_schemas import (
    AttrExistsOut,
    AttrGetOut,
    AttrNamesOut,
    SessionAttrDeleteIn,
    SessionAttrIn,
    SessionAttrQuery,
    UserAttrDeleteIn,
    UserAttrIn,
    UserAttrQuery,
)
from admit.sso.flows import attributes
from admit.sso.flows.attributes import Item, Whose
from admit.sso.models import Attribute
from admit.sso.schemas import OkOut

router = Router(tags=["attributes"])


def _missing(field: str, problem: str) -> InputError:
    return RefusedByRule(
        Code.INPUT_MISSING, f"{field} missing", [{"field": field, "problem": problem}]
    )


def _whose(values: Any) -> Whose:
    """The owner a request names: ``ust`` (+ ``user_id``), or ``current_ust`` (or ``ust``)
    + ``target_ust`` for a session's attributes."""
    if hasattr(values, "current_ust"):
        current = values.current_ust or values.ust
        if not current:
            raise _missing("current_ust", "current_ust (or ust) is required")
        return Whose(ust=current, target_ust=values.target_ust, session=True)
    return Whose(ust=values.ust, user_id=values.user_id)


def _items(payload: Any, value_required: bool) -> tuple[list[Item], bool]:
    """The attributes to write, and whether they came as ``data``."""
    if payload.name is not None:
        listed = [(payload, "value")]
    elif payload.data:
        listed = [(item, f"data.{index}.value") for index, item in enumerate(payload.data)]
    else:
        raise _missing("name", "name or data is required")
    items = []
    for given, field in listed:
        has_value = "value" in given.model_fields_set
        if value_required and not has_value:
            raise _missing(field, "a value is required")
        encrypt = payload.encrypt if given.encrypt is None else given.encrypt
        expiration = payload.expiration if given.expiration is None else given.expiration
        items.append(Item(given.name, given.value, has_value, expiration, encrypt))
    return items, payload.name is None


def _names(values: Any) -> tuple[list[str], bool]:
    """The names a read or a delete asks about, and whether they came as ``data``."""
    if values.name is not None:
        return [values.name], False
    if values.data:
        return list(dict.fromkeys(values.data)), True
    raise _missing("name", "name or data is required")


def _record(attribute: Attribute, decrypt: bool) -> dict[str, object]:
    return {
        "name": attribute.name,
        "value": attributes.value_of(attribute, decrypt),
        "creation_time": utc(attribute.creation_time),
        "last_modified": utc(attribute.last_modified),
        "expiration_time": utc(attribute.expiration_time),
        "is_encrypted": attribute.is_encrypted,
    }


def _routes(entity: str, write_in: Any, delete_in: Any, query_in: Any) -> None:
    path = f"{entity}/attr"
    owner = "a user's (own, or any for a super-user)" if entity == "user" else "a session's"
    written: dict[int, Any] = {200: OkOut, **ERRORS}

    @router.post(
        path, response=written, operation_id=f"{entity}_attr_create", summary=f"Create {owner}"
    )
    def create(request: HttpRequest, payload: write_in) -> dict:  # type: ignore[valid-type]
        items, many = _items(payload, value_required=True)
        attributes.create(_whose(payload), items, caller_of(request), payload.current_app, many)
        return ok(request)

    @router.patch(
        path, response=written, operation_id=f"{entity}_attr_update", summary=f"Update {owner}"
    )
    def update(request: HttpRequest, payload: write_in) -> dict:  # type: ignore[valid-type]
        items, many = _items(payload, value_required=False)
        attributes.update(_whose(payload), items, caller_of(request), payload.current_app, many)
        return ok(request)

    @router.put(
        path,
        response=written,
        operation_id=f"{entity}_attr_set",
        summary=f"Create or update {owner}",
    )
    def set_(request: HttpRequest, payload: write_in) -> dict:  # type: ignore[valid-type]
        items, many = _items(payload, value_required=True)
        attributes.set_(_whose(payload), items, caller_of(request), payload.current_app, many)
        return ok(request)

    @router.delete(
        path,
        response=written,
        operation_id=f"{entity}_attr_delete",
        summary=f"Delete {owner}",
        description="Deletes those of the named attributes that exist; E009002 if none does.",
    )
    def delete(request: HttpRequest, payload: delete_in) -> dict:  # type: ignore[valid-type]
        names, _ = _names(payload)
        attributes.delete(_whose(payload), names, caller_of(request), payload.current_app)
        return ok(request)

    @router.get(
        path,
        response={200: AttrGetOut, **ERRORS},
        exclude_unset=True,
        operation_id=f"{entity}_attr_get",
        summary=f"Read {owner}",
        description="With name: found and the attribute's fields; with data: result, "
        "each name's attribute or null.",
    )
    def get(request: HttpRequest, query: Query[query_in]) -> dict:  # type: ignore[valid-type]
        names, many = _names(query)
        found = attributes.get(_whose(query), names)
        if many:
            result = {
                name: _record(row, query.decrypt) if row else None for name, row in found.items()
            }
            return ok(request, result=result)
        row = found[names[0]]
        if row is None:
            return ok(request, found=False)
        return ok(request, found=True, **_record(row, query.decrypt))

    @router.get(
        f"{path}/exists",
        response={200: AttrExistsOut, **ERRORS},
        operation_id=f"{entity}_attr_exists",
        summary=f"Whether {owner} attributes exist",
    )
    def exists(request: HttpRequest, query: Query[query_in]) -> dict:  # type: ignore[valid-type]
        names, many = _names(query)
        found = attributes.exists(_whose(query), names)
        return ok(request, result=found if many else found[names[0]])

    @router.get(
        f"{path}/names",
        response={200: AttrNamesOut, **ERRORS},
        operation_id=f"{entity}_attr_names",
        summary=f"The names of {owner} attributes",
    )
    def names(request: HttpRequest, query: Query[query_in]) -> dict:  # type: ignore[valid-type]
        return ok(request, result=attributes.names(_whose(query)))


_routes("user", UserAttrIn, UserAttrDeleteIn, UserAttrQuery)
_routes("session", SessionAttrIn, SessionAttrDeleteIn, SessionAttrQuery)
