"""A sign-in hook for the tests: ``tests.verify.hooks:sign_in`` posts the faulty app's form."""

from __future__ import annotations

import httpx

from .faulty import PASSWORD, USER

#: Where the hook signs in; the test sets it.
BASE_URL = ""


def sign_in(number: int) -> str:
    """A credential line for a fresh session."""
    response = httpx.post(f"{BASE_URL}/login", data={"username": USER, "password": PASSWORD})
    return "Cookie: " + response.headers["set-cookie"].split(";")[0]


def interrupt(number: int) -> str:
    """A sign-in the operator interrupts (Ctrl-C) while it waits."""
    raise KeyboardInterrupt
