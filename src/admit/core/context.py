"""Who is calling: what the adapters know about a request, passed to every flow."""

from __future__ import annotations

from dataclasses import dataclass, field

from admit.core.secrets import new_cid


@dataclass(frozen=True)
class Caller:
    cid: str = field(default_factory=new_cid)
    remote_ip: str | None = None
    user_agent: str = ""
