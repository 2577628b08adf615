"""Sign-in recipes: how `idleguard verify` gets a fresh session, as many times as it needs.

* [`FormSignIn`][idleguard.verify.FormSignIn] posts the app's sign-in form, with user names
  and passwords read from environment variables (never from the command line, which other
  users of the machine can read); several users take turns, for apps that allow one session
  per user.
* [`CommandSignIn`][idleguard.verify.CommandSignIn] runs a command that prints a credential;
  [`HookSignIn`][idleguard.verify.HookSignIn] calls a Python function that returns one.
* [`GivenCookies`][idleguard.verify.GivenCookies] hands out cookies given on the command
  line, each once: the probes that need more sessions than were given say so.

A printed credential is one line: `Cookie: name=value; other=value`, `Authorization: Bearer
...`, any other `Header: value`, or a bare `name=value` cookie.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import shlex
import subprocess
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from .exchange import Answer, Client, Credential, Session

__all__ = [
    "CommandSignIn",
    "FormSignIn",
    "GivenCookies",
    "HookSignIn",
    "NoMoreSessions",
    "SignIn",
    "SignInFailed",
    "parse_credential",
]


class SignInFailed(Exception):
    """A sign-in did not give a session; the message says what happened."""


class NoMoreSessions(Exception):
    """The recipe has given every session it had (cookies given on the command line)."""


class SignIn(Protocol):
    """A way to get a fresh session."""

    #: Whether each session comes from a sign-in request the probes can inspect.
    makes_requests: bool

    @property
    def supply(self) -> int | None:
        """How many sessions the recipe can give in all; `None`: as many as asked."""
        ...

    def sign_in(self, client: Client, base: str, number: int, plant: Mapping[str, str]) -> Session:
        """A new session.

        Args:
            client: Sends the requests, keeping them as evidence.
            base: The deployment's base URL.
            number: How many sessions were asked for before this one.
            plant: Cookies to send with the sign-in (a fixation attempt); recipes that make
                no request ignore them.
        """
        ...


def parse_credential(line: str) -> Credential:
    """A credential from one printed line (see the module's docstring).

    Raises:
        SignInFailed: The line is empty or not one of the accepted forms.
    """
    text = line.strip()
    if not text:
        raise SignInFailed("the sign-in printed nothing")
    name, colon, value = text.partition(":")
    if colon and name.strip() and " " not in name.strip() and "=" not in name:
        if name.strip().lower() == "cookie":
            return Credential(cookies=_cookie_pairs(value))
        return Credential(headers={name.strip(): value.strip()})
    return Credential(cookies=_cookie_pairs(text))


def _cookie_pairs(text: str) -> dict[str, str]:
    pairs = {}
    for pair in text.split(";"):
        name, equals, value = pair.strip().partition("=")
        if not equals or not name:
            raise SignInFailed("a cookie must be written name=value (several: a=1; b=2)")
        pairs[name] = value
    return pairs


@dataclasses.dataclass
class FormSignIn:
    """Post a sign-in form.

    Args:
        login_url: Where the form posts (absolute, or relative to the deployment).
        users: `(user name, password)` pairs, taken in turn.
        user_field: The form field for the user name.
        password_field: The form field for the password.
        fields: More fields the form sends, as they are.
    """

    login_url: str
    users: Sequence[tuple[str, str]]
    user_field: str = "username"
    password_field: str = "password"  # noqa: S105 - a field name
    fields: Mapping[str, str] = dataclasses.field(default_factory=dict)
    makes_requests: bool = True
    supply: int | None = None

    @classmethod
    def from_environment(
        cls,
        login_url: str,
        variables: Sequence[tuple[str, str]],
        environ: Mapping[str, str] = os.environ,
        **options: object,
    ) -> FormSignIn:
        """The recipe with each user's name and password read from the environment.

        Args:
            login_url: Where the form posts.
            variables: `(user variable, password variable)` pairs.
            environ: Where to read them (default the process's environment).
            **options: The other fields of `FormSignIn`.

        Raises:
            SignInFailed: A variable is not set.
        """
        users = []
        for user_variable, password_variable in variables:
            missing = [name for name in (user_variable, password_variable) if name not in environ]
            if missing:
                raise SignInFailed(
                    f"set {' and '.join(missing)} to the user and password to sign in with"
                )
            users.append((environ[user_variable], environ[password_variable]))
        return cls(login_url, users, **options)  # type: ignore[arg-type]

    def sign_in(self, client: Client, base: str, number: int, plant: Mapping[str, str]) -> Session:
        """Post the form as the next user (see [`SignIn`][idleguard.verify.SignIn])."""
        user, password = self.users[number % len(self.users)]
        credential = Credential(cookies=dict(plant))
        form = {**self.fields, self.user_field: user, self.password_field: password}
        at = client.timeline.now()
        response, exchange = client.send(
            "POST",
            self.login_url,
            credential,
            form=form,
            base=base,
            note=f"sign in as {user}",
            setup=True,
        )
        if response is None:
            raise SignInFailed(f"the sign-in form did not answer: {exchange.error}")
        if response.status_code >= 400:
            raise SignInFailed(f"the sign-in form answered {response.status_code} for {user}")
        cookies_set = response.headers.get_list("set-cookie")
        if not credential.cookies:
            raise SignInFailed(f"the sign-in form set no cookie for {user}")
        signed_in = dataclasses.replace(exchange, answer=Answer.SIGNED_IN)
        return Session(credential, user, at, [signed_in], cookies_set)


@dataclasses.dataclass
class CommandSignIn:
    """Run a command that prints a credential; `IDLEGUARD_VERIFY_NUMBER` tells it which.

    Args:
        command: The command line, split as a shell would (but run without one).
        timeout: Seconds the command may take.
    """

    command: str
    timeout: float = 60.0
    makes_requests: bool = False
    supply: int | None = None

    def sign_in(self, client: Client, base: str, number: int, plant: Mapping[str, str]) -> Session:
        """Run the command (see [`SignIn`][idleguard.verify.SignIn])."""
        at = client.timeline.now()
        environment = {
            **os.environ,
            "IDLEGUARD_VERIFY_NUMBER": str(number),
            "IDLEGUARD_VERIFY_URL": base,
        }
        try:
            done = subprocess.run(  # noqa: S603 - the operator's own command
                shlex.split(self.command),
                capture_output=True,
                text=True,
                timeout=self.timeout,
                env=environment,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise SignInFailed(f"the sign-in command did not run: {error}") from None
        if done.returncode != 0:
            raise SignInFailed(f"the sign-in command exited with status {done.returncode}")
        line = next((line for line in done.stdout.splitlines() if line.strip()), "")
        return Session(parse_credential(line), f"command #{number}", at)


@dataclasses.dataclass
class HookSignIn:
    """Call `module:function`; it is given the session's number and returns a credential line.

    Args:
        target: `package.module:function`, importable from the current directory.
    """

    target: str
    makes_requests: bool = False
    supply: int | None = None

    def __post_init__(self) -> None:
        module, colon, name = self.target.partition(":")
        if not colon or not module or not name:
            raise SignInFailed("--sign-in-hook must be module:function")
        try:
            hook = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as error:
            raise SignInFailed(f"cannot load the sign-in hook {self.target}: {error}") from None
        self._hook: Callable[[int], str] = hook

    def sign_in(self, client: Client, base: str, number: int, plant: Mapping[str, str]) -> Session:
        """Call the hook (see [`SignIn`][idleguard.verify.SignIn])."""
        at = client.timeline.now()
        line = self._hook(number)
        if not isinstance(line, str):
            raise SignInFailed(f"the sign-in hook returned {type(line).__name__}, not a str")
        return Session(parse_credential(line), f"hook #{number}", at)


@dataclasses.dataclass
class GivenCookies:
    """Cookies given directly, each used for one session only.

    Args:
        credentials: One credential line each (`name=value`, `Cookie: ...`, a header).
    """

    credentials: Sequence[str]
    makes_requests: bool = False

    @property
    def supply(self) -> int:
        """One session per credential given."""
        return len(self.credentials)

    def sign_in(self, client: Client, base: str, number: int, plant: Mapping[str, str]) -> Session:
        """The next credential given (see [`SignIn`][idleguard.verify.SignIn])."""
        if number >= len(self.credentials):
            raise NoMoreSessions(
                f"{len(self.credentials)} credential(s) were given and this probe needs more: "
                "give more, or a sign-in recipe that makes sessions"
            )
        return Session(
            parse_credential(self.credentials[number]), f"given #{number}", client.timeline.now()
        )
