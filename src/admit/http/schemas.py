"""The request and answer building blocks of every JSON API of admit (``/zato/sso/`` and the
remote servers' ``/api/v1/remotes/``): strict bodies, text without control characters, the
error envelope's shape and the error answers every route declares.

They live here rather than in ``admit.core`` because they are HTTP's: ``core`` knows nothing
of requests and answers. Both wings build their schemas from these.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StrictInt,
    StrictStr,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from admit.core.names import LINE_BREAKS, WHITESPACE_CONTROLS, control_character

_CONTROLS = [*range(0x00, 0x20), *range(0x7F, 0xA0)]  # Unicode category Cc


def _character_class(keep: str) -> str:
    """The control characters not in ``keep`` as the ranges of a regular expression's class."""
    ranges: list[list[int]] = []
    for code in (code for code in _CONTROLS if chr(code) not in keep):
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    return "".join(
        f"\\u{first:04x}" + (f"-\\u{last:04x}" if last > first else "") for first, last in ranges
    )


@dataclass(frozen=True)
class NoControlCharacters:
    """A string without control characters (but those in ``keep``) or lone surrogates: a NUL
    is refused here, with the field named (E008002), before PostgreSQL could refuse it with
    an error. The OpenAPI document states it as a ``pattern``."""

    keep: str = ""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        # A field's own pattern (which then admits no control character either) stands.
        json_schema.setdefault("pattern", f"^[^{_character_class(self.keep)}]*$")
        return json_schema

    def check(self, value: str) -> str:
        found = control_character(value, self.keep)
        if found:
            raise PydanticCustomError(
                "control_character",
                "must not contain control characters (found {character})",
                {"character": found},
            )
        return value


# Every string of a request is one of these (docs/api.md). ``Password``: whitespace, tabs
# included, is kept as typed. ``Name``: a new username or e-mail address, whose whitespace,
# tabs included, the validation rules refuse with their own codes (E001004, E002004).
def _whole_number(value: Any) -> Any:
    """``1.0`` is the integer 1 in JSON Schema, so it is one here too; ``"1"`` and ``1.5``
    stay refused."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


# An integer of a request: strict, but a whole number written with a fraction counts.
WholeNumber = Annotated[StrictInt, BeforeValidator(_whole_number)]
Text = Annotated[StrictStr, NoControlCharacters()]
Password = Annotated[StrictStr, NoControlCharacters(WHITESPACE_CONTROLS)]
Name = Annotated[StrictStr, NoControlCharacters(WHITESPACE_CONTROLS)]
MultilineText = Annotated[StrictStr, NoControlCharacters(LINE_BREAKS)]


class StrictInput(BaseModel):
    """A JSON body. No coercion: a number where a string belongs is E008002, not a quiet
    "123". Unknown fields are ignored and grant nothing. A plain pydantic model: ninja's
    ``Schema`` adds reading from Django objects' attributes, which a body never needs and
    which cost every nested object a wrapper on every request."""

    model_config = ConfigDict(strict=True, extra="ignore")


class ErrorDetail(Schema):
    field: str
    problem: str


class ErrorOut(Schema):
    status: Literal["error"] = "error"
    sub_status: list[str] = Field(
        description="Machine codes, e.g. E001002: the table of codes is in the API's description",
        examples=[["E001002", "E003001"]],
    )
    cid: str
    details: list[ErrorDetail] | None = Field(
        None, description="Present on HTTP 400: which field is wrong and how"
    )


# 414: a query string over 4 KiB, refused on every API route (admit.http.proxy).
ERRORS = {400: ErrorOut, 403: ErrorOut, 413: ErrorOut, 414: ErrorOut, 429: ErrorOut}


def utc(moment: datetime | None) -> str | None:
    """UTC, ISO 8601 without an offset, as the seed writes times."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S") if moment else None
