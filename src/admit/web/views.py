from __future__ import annotations

import email
import email.policy
from pathlib import Path

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from admit.core.errors import AdmitError
from admit.sso import flows

OUTBOX_SHOWN = 50


def health(request: HttpRequest) -> JsonResponse:
    """A constant answer for load balancers' health checks. It does no work of its own, so
    the benchmarks also use it to measure what the framework alone can serve."""
    return JsonResponse({"status": "ok"})


def home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "web/home.html",
        {"debug_outbox": settings.DEBUG, "console_link": is_superuser(request)},
    )


def is_superuser(request: HttpRequest) -> bool:
    """Whether the web session belongs to a live super-user: their pages link the console."""
    ust = request.session.get("admit_ust", "")
    if not isinstance(ust, str) or not ust:
        return False
    try:
        flows.superuser_for(ust)
    except AdmitError:
        return False
    return True


def outbox(request: HttpRequest) -> HttpResponse:
    """The messages the file e-mail backend wrote: the developer's inbox. Debug mode only."""
    if not settings.DEBUG:
        raise Http404
    folder = Path(getattr(settings, "EMAIL_FILE_PATH", "") or settings.ADMIT_DATA_DIR / "outbox")
    files = (
        sorted(folder.glob("*.log"), key=lambda path: path.stat().st_mtime, reverse=True)
        if folder.exists()
        else []
    )
    # Not "messages": the base layout shows that name (Django's messages framework) as notices.
    mails = []
    for path in files[:OUTBOX_SHOWN]:
        # The file backend appends one message per send to a file per connection.
        for raw in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
            if raw.strip():
                mails.append(_summary(raw))
    return render(request, "web/outbox.html", {"mails": mails, "folder": folder})


def _summary(raw: bytes) -> dict[str, str]:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    text_part = message.get_body(preferencelist=("plain",))
    body = text_part.get_content() if text_part is not None else ""  # type: ignore[attr-defined]
    return {
        "subject": message["Subject"],
        "to": message["To"],
        "date": message["Date"],
        "body": body,
    }
