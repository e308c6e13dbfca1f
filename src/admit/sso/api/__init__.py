"""/zato/sso/: thin adapters that parse the request, call one flow and render its answer."""

from ninja import Router

# approval adds its routes to signup's router (they share the path user/signup).
from admit.sso.api import approval, attributes, login, reset, sessions, signup, users

router = Router()
for part in (signup, login, sessions, users, reset, attributes):
    router.add_router("", part.router)

__all__ = ["approval", "router"]
