"""/zato/sso/: thin adapters that parse the request, call one flow and render its answer."""

from ninja import Router

from admit.sso.api import reset, sessions, signup, users

router = Router()
for part in (signup, sessions, users, reset):
    router.add_router("", part.router)
