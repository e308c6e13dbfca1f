"""Spending a user's TOTP code: valid now, newer than the last one used, and used once."""

from __future__ import annotations

from admit.core import clock, totp
from admit.sso.models import User


def claim_code(user: User, code: str) -> bool:
    """True when ``code`` is right and was not used before; it cannot be used again.

    The step is claimed with a conditional UPDATE: of two requests with one code, one wins.
    """
    secret = totp.unseal(user.totp_secret)
    step = totp.matching_step(secret, code, clock.now(), user.totp_last_step) if secret else None
    if step is None:
        return False
    claimed = User.objects.filter(pk=user.pk, totp_last_step=user.totp_last_step).update(
        totp_last_step=step
    )
    if claimed == 1:
        # The object too: a flow that saves it afterwards (PATCH /user switching TOTP on)
        # would otherwise write the old step back, and the spent code would work again.
        user.totp_last_step = step
    return claimed == 1
