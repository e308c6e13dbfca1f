"""The fuzz hooks (``schemathesis_hooks.py``) hand a live session only to cases that must be
accepted with it: never to a token value that breaks its schema, never to a query string that
schemathesis generated to break the schema (where ``data=false`` reads on the wire as a list of
one name). Otherwise schemathesis reports the accepted request as "schema-violating" (CI once
failed so). These tests also fail if schemathesis stops telling a case's generation mode the
way the hooks read it (``case.meta.components``)."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import pytest
import schemathesis

HOOKS_FILE = Path(__file__).with_name("schemathesis_hooks.py")
LIVE = "zust-live-session-of-the-test"
DOCUMENT = {
    "openapi": "3.0.3",
    "info": {"title": "attributes", "version": "1"},
    "paths": {
        "/zato/sso/session/attr/exists": {
            "get": {
                "parameters": [
                    {"in": "query", "name": "ust", "required": True, "schema": {"type": "string"}},
                    {
                        "in": "query",
                        "name": "data",
                        "required": True,
                        "schema": {"type": "array", "items": {"type": "string"}},
                    },
                ],
                "responses": {"200": {"description": "ok"}},
            }
        }
    },
}


@pytest.fixture
def hooks(monkeypatch):
    """The hooks module, with a made-up live session instead of a log-in over HTTP; its
    schemathesis hooks are unregistered afterwards."""
    spec = importlib.util.spec_from_file_location("fuzz_hooks_under_test", HOOKS_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "admin_ust", lambda: LIVE)
    yield module
    schemathesis.hooks.unregister_all()


def a_case(mode: schemathesis.GenerationMode):
    operation = schemathesis.openapi.from_dict(DOCUMENT)["/zato/sso/session/attr/exists"]["GET"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Hypothesis warns that .example() is for exploring
        return operation.as_strategy(generation_mode=mode).example()


def chosen_token(hooks, prefix: str = "zust") -> str:
    """A token value, starting with ``prefix``, of the half that the hooks would replace."""
    return next(t for n in range(100) if hooks._chosen(t := f"{prefix}{n:032x}"))


def test_a_positive_query_gets_the_live_session(hooks):
    case = a_case(schemathesis.GenerationMode.POSITIVE)
    case.query["ust"] = chosen_token(hooks)

    hooks.before_call(None, case, {})

    assert case.query["ust"] == LIVE


def test_a_negative_query_keeps_its_own_token(hooks):
    case = a_case(schemathesis.GenerationMode.NEGATIVE)
    case.query = {"ust": chosen_token(hooks), "data": False}  # sent as data=false

    hooks.before_call(None, case, {})

    assert case.query["ust"] != LIVE


def test_a_token_with_a_control_character_is_left_alone(hooks):
    token = chosen_token(hooks, prefix="zust\x00")
    body = {"ust": token}

    hooks._with_session(body, "/zato/sso/user")

    assert body["ust"] == token
    clean = {"ust": chosen_token(hooks)}
    hooks._with_session(clean, "/zato/sso/user")
    assert clean["ust"] == LIVE
