"""The demo's two accounts, shown on the sign-in page with their passwords.

A real app keeps password hashes in its database; the demo's passwords are
public on purpose. They are still compared in constant time, as a real
check would be.
"""

from __future__ import annotations

import dataclasses
import hmac

__all__ = ["USERS", "User", "authenticate", "find"]


@dataclasses.dataclass(frozen=True, slots=True)
class User:
    """A person who can sign in. ``email`` is the idleguard session's subject."""

    email: str
    name: str
    password: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def first_name(self) -> str:
        return self.name.split()[0]


USERS = (
    User("ada@acme.test", "Ada Lovelace", "ada-demo-password", "admin"),
    User("max@acme.test", "Max Mustermann", "max-demo-password", "member"),
)


def find(email: str | None) -> User | None:
    """The account signed in as ``email`` (a session's subject), if it still exists."""
    return next((user for user in USERS if user.email == email), None)


def authenticate(email: str, password: str) -> User | None:
    """The account whose email and password these are, else ``None``."""
    user = find(email.strip().lower())
    if user is None or not hmac.compare_digest(user.password.encode(), password.encode()):
        return None
    return user
