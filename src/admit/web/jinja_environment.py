"""The Jinja2 environment of the pages written in it (the remote log-in pages)."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment

from admit.web.templatetags.assets import asset


def environment(**options: Any) -> Environment:
    env = Environment(**options)  # noqa: S701 (Django's backend turns autoescape on)
    env.globals["asset"] = asset
    return env
