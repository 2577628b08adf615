"""The demo's sign-in rule: any user name, the password ``demo``."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import User
from django.http import HttpRequest


class DemoBackend(ModelBackend):
    """Accept any user name with the password ``demo``, creating the user on first sign-in."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        if not username or password != "demo":
            return None
        user: User = User.objects.get_or_create(username=username)[0]
        return user
