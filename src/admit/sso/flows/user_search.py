"""Zato's user search (``zato.sso.user_search``): by user id, else by username, else by
names and the other criteria together."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from django.db.models import Q, QuerySet

from admit.sso.flows.sessions import superuser_for
from admit.sso.models import User, normalize_username

NAME_FIELDS = ("display_name", "first_name", "middle_name", "last_name")
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
# ``paginate: false`` answers everything on one page, up to this many users.
MAX_UNPAGINATED = 1000


@dataclass(frozen=True)
class Criteria:
    user_id: str | None = None
    username: str | None = None
    email: str | None = None
    names: dict[str, str] = field(default_factory=dict)  # of NAME_FIELDS
    sign_up_status: str | None = None
    approval_status: str | None = None
    name_op: Literal["and", "or"] = "and"
    is_name_exact: bool = True


@dataclass(frozen=True)
class SearchPage:
    users: list[User]
    total: int
    num_pages: int
    page_size: int
    cur_page: int

    @property
    def page(self) -> int:
        return self.cur_page

    @property
    def has_next_page(self) -> bool:
        return self.cur_page < self.num_pages

    @property
    def has_prev_page(self) -> bool:
        return self.cur_page > 1


def _matching(criteria: Criteria) -> QuerySet[User]:
    users: QuerySet[User] = User.objects.all()
    # user_id and username name one user each: Zato then ignores the other criteria.
    if criteria.user_id:
        return users.filter(user_id=criteria.user_id)
    if criteria.username:
        return users.filter(username_key=normalize_username(criteria.username))
    if criteria.names:
        lookup = "iexact" if criteria.is_name_exact else "icontains"
        conditions = [Q(**{f"{name}__{lookup}": value}) for name, value in criteria.names.items()]
        combined = conditions[0]
        for condition in conditions[1:]:
            combined = combined & condition if criteria.name_op == "and" else combined | condition
        users = users.filter(combined)
    if criteria.email is not None:
        users = users.filter(email__iexact=criteria.email)
    if criteria.sign_up_status == "before_confirmation":
        users = users.filter(confirmed_at__isnull=True)
    elif criteria.sign_up_status == "to_approve":
        users = users.filter(confirmed_at__isnull=False, approval_status=User.Approval.PENDING)
    elif criteria.sign_up_status == "final":
        users = users.filter(confirmed_at__isnull=False, approval_status=User.Approval.APPROVED)
    if criteria.approval_status:
        users = users.filter(approval_status=criteria.approval_status)
    return users


def search_users(
    ust: str, criteria: Criteria, cur_page: int = 1, page_size: int = 0, paginate: bool = True
) -> SearchPage:
    """Oldest sign-up first. As Zato: a page below 1 is the first, a page size below 1 the
    default and one above ``MAX_PAGE_SIZE`` the maximum."""
    superuser_for(ust)
    return _page(_matching(criteria), cur_page, page_size, paginate)


CONSOLE_FIELDS = ("username", "email", "display_name", "user_id", "last_name")


def console_search(
    ust: str, field_name: str, text: str, approval_status: str, cur_page: int
) -> SearchPage:
    """The console's search box: ``text`` anywhere in one field, case-insensitively."""
    superuser_for(ust)
    users: QuerySet[User] = User.objects.all()
    if text and field_name in CONSOLE_FIELDS:
        users = users.filter(**{f"{field_name}__icontains": text})
    if approval_status:
        users = users.filter(approval_status=approval_status)
    return _page(users, cur_page, DEFAULT_PAGE_SIZE, True)


def _page(matching: QuerySet[User], cur_page: int, page_size: int, paginate: bool) -> SearchPage:
    found = matching.order_by("sign_up_time", "id")
    total = found.count()
    if not paginate:
        page_size, cur_page = MAX_UNPAGINATED, 1
    elif page_size < 1:
        page_size = DEFAULT_PAGE_SIZE
    page_size = min(page_size, MAX_PAGE_SIZE if paginate else MAX_UNPAGINATED)
    cur_page = max(cur_page, 1)
    start = (cur_page - 1) * page_size
    users = list(found[start : start + page_size])
    num_pages = max(1, math.ceil(total / page_size))
    return SearchPage(users, total, num_pages, page_size, cur_page)
