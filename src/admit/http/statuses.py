"""Which HTTP status each kind of refusal gets: the adapters' decision, not the flows'."""

from __future__ import annotations

from admit.core.errors import (
    AdmitError,
    InputError,
    NotFound,
    RefusedByRule,
    Unauthenticated,
)
from admit.core.ratelimit import RateLimited

# Most specific kind first: a refusal is whatever it is an instance of.
_STATUS_OF_KIND: tuple[tuple[type[AdmitError], int], ...] = (
    (RefusedByRule, 403),
    (InputError, 400),
    (Unauthenticated, 401),
    (NotFound, 404),
    (RateLimited, 429),
)


def api_status(error: AdmitError) -> int:
    """The JSON API's status: 400 bad input, 401 unknown caller, 404, 429, else 403."""
    for kind, status in _STATUS_OF_KIND:
        if isinstance(error, kind):
            return status
    return 403


def page_status(error: AdmitError) -> int:
    """A page's status for a refusal shown on the form: 429 for too many attempts, else 400."""
    return 429 if isinstance(error, RateLimited) else 400
