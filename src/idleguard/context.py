"""The per-request session context the app talks to through `begin`/`end`/`current`.

The app's calls only record what it wants; the middleware carries them out
against the store when the response starts, in its own I/O style. That is
what lets one `idleguard.begin(request, ...)` work from a sync Flask view
and an async FastAPI endpoint alike.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .core import Decision, EndReason, SessionRecord, Verdict
from .facts import RequestFacts
from .identity import digest
from .policy import Policy
from .resolution import Resolution, StepUp
from .settings import Settings

__all__ = ["PendingAction", "SessionContext", "SessionInfo"]


@dataclasses.dataclass(frozen=True, slots=True)
class SessionInfo:
    """What the app may know about the current session.

    Attributes:
        subject: Who signed in, as given to [`begin`][idleguard.begin].
        tenant: The tenant given to [`begin`][idleguard.begin], if any.
        created_at: When the session began (sign-in), in seconds since the epoch.
        authenticated_at: When the user last proved who they are (sign-in or
            [`reauthenticated`][idleguard.reauthenticated]), in seconds since
            the epoch.
        idle_remaining: Seconds left before the idle limit when the request was
            checked; `None` when the idle limit is off.
        absolute_remaining: Seconds left before the absolute limit when the
            request was checked; `None` when the absolute limit is off.
        warn_before: Seconds before the idle deadline at which the browser
            client warns.
    """

    subject: str | None
    tenant: str | None
    created_at: float
    authenticated_at: float
    idle_remaining: float | None
    absolute_remaining: float | None
    warn_before: float


@dataclasses.dataclass(frozen=True, slots=True)
class PendingAction:
    kind: str  # "begin", "end" or "reauthenticate"
    key: str
    at: float
    record: SessionRecord | None = None
    credential: str | None = None
    reason: EndReason = EndReason.SIGNED_OUT


class SessionContext:
    """One request's view of its session. Adapters put it in the scope or environ.

    Built on every request, so it stays cheap: defaults live on the class and
    an instance only stores what differs; the app's view (`info`) is
    computed when the app asks for it.
    """

    exempt = False
    unguarded = False
    #: A cookie idleguard signed that names no record it has (restart, or another worker's).
    stranger = False
    clear_cookie = False
    activity = False
    activity_mark = 0.0
    credential_key: str | None = None
    key: str | None = None
    record: SessionRecord | None = None
    decision: Decision | None = None
    _info: SessionInfo | None = None
    _fresh = False
    #: Which rules set this request's limits (`None` until resolved).
    resolution: Resolution | None = None
    #: Set when the request was refused for step-up.
    step_up: StepUp | None = None
    #: A client-side store's record: as the request carried it, and the
    #: value to set on the response (`None`: leave the cookie as it is).
    carried: str | None = None
    carry: str | None = None

    #: What the app asked for; a list of its own once the app asks for anything.
    pending: list[PendingAction] | tuple[()] = ()
    _policy: Policy | None = None

    def __init__(self, settings: Settings, facts: RequestFacts) -> None:
        self.settings = settings
        self.facts = facts

    @property
    def policy(self) -> Policy:
        """The policy of this request: its own once decided, else the default."""
        return self._policy if self._policy is not None else self.settings.policy

    @policy.setter
    def policy(self, policy: Policy) -> None:
        self._policy = policy

    def _ask(self, action: PendingAction) -> None:
        if isinstance(self.pending, tuple):
            self.pending = []
        self.pending.append(action)

    @property
    def alive(self) -> bool:
        return self.key is not None

    def settle(
        self, key: str, decision: Decision, record: SessionRecord | None, now: float
    ) -> None:
        """Take in a store's answer for `key`."""
        self.decision = decision
        self.record = record
        self.activity_mark = now
        self._info = None
        self._fresh = False
        self.key = key if decision.verdict is Verdict.ALLOW and record is not None else None

    def refresh(self, now: float) -> None:
        """Recompute the app's view after the session changed within this request."""
        self._fresh = True
        record = self.record
        if self.key is None or record is None:
            self._info = None
            return
        limits = self.policy.limits
        self._info = SessionInfo(
            record.subject,
            record.tenant,
            record.created_at,
            record.authenticated_at,
            limits.idle_timeout,
            None
            if limits.absolute_timeout is None
            else record.created_at + limits.absolute_timeout - now,
            self.policy.warn_before,
        )

    # -- what the app asks for ------------------------------------------------
    def begin(self, subject: str | None, tenant: str | None, credential: str | None) -> None:
        settings = self.settings
        now = settings.clock()
        if self.key is not None:
            # A sign-in over a live session replaces it: the old id must not
            # survive a change of privilege (session fixation).
            self._ask(PendingAction("end", self.key, now))
        if settings.identity.issues:
            if credential is not None:
                raise ValueError(
                    "idleguard issues its own session cookie here; pass no credential to begin()"
                )
            credential, key = settings.identity.issue()
        else:
            if credential is None:
                raise ValueError(
                    "begin() needs the credential the app issued (credential=...) when "
                    "idleguard guards the app's own cookie or token"
                )
            key = digest(credential)
        record = SessionRecord(subject, tenant, now, now, now)
        self._ask(PendingAction("begin", key, now, record, credential))
        self.key = key
        self.record = record
        self.decision = Decision(Verdict.ALLOW)
        self.refresh(now)

    def end(self, reason: EndReason = EndReason.SIGNED_OUT) -> None:
        # Only a live session is ended: a credential idleguard has no live
        # record for gets no tombstone, so junk can never fill the store.
        key = self.key
        if key is None:
            return
        self._ask(PendingAction("end", key, self.settings.clock(), reason=reason))
        self.key = None
        self._info = None

    def reauthenticated(self) -> None:
        if self.key is None or self.record is None:
            raise LookupError("reauthenticated() needs a live session")
        now = self.settings.clock()
        self._ask(PendingAction("reauthenticate", self.key, now))
        self.record = dataclasses.replace(self.record, authenticated_at=now)
        self.refresh(now)

    def info(self) -> SessionInfo | None:
        if self._info is None and not self._fresh:
            record, decision = self.record, self.decision
            if self.key is None or record is None or decision is None:
                return None
            self._info = SessionInfo(
                record.subject,
                record.tenant,
                record.created_at,
                record.authenticated_at,
                decision.idle_remaining,
                decision.absolute_remaining,
                self.policy.warn_before,
            )
        return self._info

    @property
    def has_headers(self) -> bool:
        """The response needs headers from idleguard (a cookie to set or clear)."""
        return bool(self.pending or self.clear_cookie or self.carry)

    def explain(self) -> dict[str, Any]:
        """Which rules set this request's limits, and how much time is left.

        What [`idleguard.explain`][idleguard.explain] answers.
        """
        if self.exempt:
            return {"exempt": True, "rule": "exempt path or API key"}
        resolution = self.resolution or self.settings.policies.for_facts(self.facts)
        info = self.info()
        result: dict[str, Any] = {"exempt": False, "session": info is not None}
        result.update(resolution.as_dict())
        result["idle_remaining"] = info.idle_remaining if info is not None else None
        result["absolute_remaining"] = info.absolute_remaining if info is not None else None
        step_up = self.step_up
        result["step_up_required"] = step_up is not None
        if step_up is not None:
            result["step_up_rule"] = step_up.rule
        provider = self.settings.identity_provider
        limit = None if provider is None else provider.session_limit
        absolute = result["absolute_timeout"]
        if limit is not None and (absolute is None or limit < absolute):
            # The IdP signs the user out sooner than idleguard would: that is the real limit.
            result["idp_session_limit"] = limit
            result["notes"] = [
                *result["notes"],
                f"the identity provider's session ends after {limit:g} s, "
                "before this absolute limit",
            ]
        return result
