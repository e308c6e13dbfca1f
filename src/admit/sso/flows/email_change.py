"""A user's own new e-mail address, applied once a link sent to it is confirmed
(``[user] confirm_email_change``): a stolen session alone cannot move the account's mail,
and with it the password resets, to another address. Following the link also proves that the
new address is the person's (``User.email_verified``)."""

from __future__ import annotations

from admit.audit.log import AuditEntry
from admit.confirmations import engine as confirmations
from admit.confirmations.models import Confirmation
from admit.mail.outbox import enqueue
from admit.sso.models import User, normalize_email

EMAIL_CHANGE = "email_change"


def ask_to_confirm(user: User, new_email: str) -> None:
    """Keep ``new_email`` as the user's pending address and send a link to it; an earlier
    request's link stops working. Whether the address has an account is not told here (the
    answer would tell anyone with a session): confirming says it."""
    confirmations.revoke(user, EMAIL_CHANGE)
    user.pending_email = new_email
    key = confirmations.create(user, EMAIL_CHANGE, proves_email_key=normalize_email(new_email))
    enqueue("email_change", new_email, {"user": user, "link": confirmations.link(key)})


def describe_email_change(confirmation: Confirmation) -> str:
    user = User.objects.filter(pk=confirmation.object_id).first()
    if user is None or not user.pending_email:
        return "a change of e-mail address that is no longer asked for"
    return f"{user.pending_email} as the e-mail address of {user.username}"


def on_email_change_confirmed(confirmation: Confirmation, audit: AuditEntry) -> str:
    user = User.objects.select_for_update().filter(pk=confirmation.object_id).first()
    if user is None or not user.pending_email:
        return "There is no change of address to confirm."
    audit.target_user_id = user.user_id
    new_key = normalize_email(user.pending_email)
    if User.objects.filter(email_key=new_key).exclude(pk=user.pk).exists():
        user.pending_email = ""
        user.save(update_fields=["pending_email"])
        return "This address already belongs to another account; nothing was changed."
    user.email, user.email_key, user.pending_email = user.pending_email, new_key, ""
    proven = user.prove_email(confirmation.proves_email_key)
    user.save(update_fields=["email", "email_key", "pending_email", *proven])
    return "Your new e-mail address is confirmed."
