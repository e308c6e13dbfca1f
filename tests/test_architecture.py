"""The import rule that import-linter cannot state: it forbids an external package only as a
whole, and Django is both the ORM the flows use and the HTTP layer they must not know. The
other rules are the contracts in pyproject.toml (``lint-imports``, run by ``make lint``)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import admit

SRC = Path(admit.__file__).parent
# Django's request and response layer, and ninja's.
HTTP = ("django.http", "django.shortcuts", "django.middleware", "django.urls", "django.views")
# core, and the flows of every app: plain functions with typed inputs, called by adapters.
KNOW_NO_HTTP = (
    "core",
    "sso/flows",
    "remote/flows",
    "console/flows.py",
    "confirmations/engine.py",
)


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("part", KNOW_NO_HTTP)
def test_knows_nothing_of_http(part: str) -> None:
    top = SRC / part
    files = [top] if top.suffix == ".py" else sorted(top.rglob("*.py"))
    assert files
    found = [
        f"{path.relative_to(SRC)} imports {name}"
        for path in files
        for name in sorted(imported(path))
        if any(name == http or name.startswith(http + ".") for http in HTTP)
    ]
    assert found == []
