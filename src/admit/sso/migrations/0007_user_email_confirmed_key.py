"""``User.email_confirmed_key``: the address the person last proved to be theirs by a link
e-mailed to it, behind OpenID Connect's ``email_verified``.

Before it, ``email_verified`` said whether the sign-up was confirmed. Upgrading keeps that
answer for everyone: a confirmed person's current address counts as proven, and so do the
addresses that the links still waiting to be followed were sent to (a sign-up's, a change of
address's). From then on only a followed link proves an address.
"""

import unicodedata

from django.db import migrations, models
from django.db.models import F

# The kinds and the object type of admit.sso's confirmations, as they were named then.
SIGNUP, EMAIL_CHANGE, USER = "signup", "email_change", "sso.user"


def _normalize_email(email: str) -> str:
    # admit.core.names.normalize_email as it was then.
    return unicodedata.normalize("NFKC", email).casefold()


def keep_todays_answer(apps, schema_editor):
    User = apps.get_model("sso", "User")
    Confirmation = apps.get_model("confirmations", "Confirmation")
    accounts = User.objects.filter(holds_taken_email=False)
    confirmed = accounts.filter(confirmed_at__isnull=False).exclude(email_key="")
    confirmed.update(email_confirmed_key=F("email_key"))
    waiting = Confirmation.objects.filter(
        object_type=USER, used_at__isnull=True, revoked_at__isnull=True
    )
    for confirmation in waiting.filter(kind__in=(SIGNUP, EMAIL_CHANGE)):
        user = accounts.filter(pk=confirmation.object_id).first()
        if user is None:
            continue
        if confirmation.kind == SIGNUP:
            confirmation.proves_email_key = user.email_key
        elif user.pending_email:
            confirmation.proves_email_key = _normalize_email(user.pending_email)
        confirmation.save(update_fields=["proves_email_key"])


class Migration(migrations.Migration):
    dependencies = [
        ("sso", "0006_user_return_to"),
        ("confirmations", "0002_confirmation_proves_email_key"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="email_confirmed_key",
            field=models.CharField(blank=True, default="", max_length=254),
        ),
        # Backwards, the column goes with what was filled in; the confirmations' keys filled in
        # are what going forward again would fill in, and go with confirmations' own 0002.
        migrations.RunPython(keep_todays_answer, migrations.RunPython.noop),
    ]
