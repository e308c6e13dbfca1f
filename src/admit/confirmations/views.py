"""The page an e-mailed confirmation link opens.

GET only shows what would be confirmed and a button: mail scanners that fetch links must
not confirm anything. The POST from the button confirms. Each of the three failures has its
own page and status.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from admit.confirmations import engine
from admit.http.requests import caller_of


def _failure(request: HttpRequest, error: engine.ConfirmationError) -> HttpResponse:
    if isinstance(error, engine.MalformedKey):
        return render(request, "confirmations/malformed.html", status=400)
    if isinstance(error, engine.KeyExpiredOrUsed):
        context = {"used": error.was_used}
        return render(request, "confirmations/expired.html", context, status=410)
    return render(request, "confirmations/not_found.html", status=404)


@require_http_methods(["GET", "POST"])
def confirm_page(request: HttpRequest, key: str) -> HttpResponse:
    try:
        if request.method == "POST":
            confirmed = engine.confirm(key, caller_of(request))
            return render(request, "confirmations/done.html", {"confirmed": confirmed})
        return render(request, "confirmations/confirm.html", {"what": engine.describe(key)})
    except engine.ConfirmationError as error:
        return _failure(request, error)
