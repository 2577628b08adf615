"""The store calls a step of the request flow asks for, as typed values, and their one driver pair.

The flow, the policy engine and the cookie store are written as generators
that yield these values and are sent the results; they never do I/O
themselves. `drive_sync` carries each call out against a store's sync
methods (WSGI, threads), `drive_async` against its awaited twins (ASGI),
so the logic exists once and the type checker sees every call's arguments.

Errors: a store's declared failures arrive as
[`StoreUnavailable`][idleguard.StoreUnavailable]; an async call taking longer than
its timeout becomes one too. Anything else is thrown into the step as itself:
a bug, never mistaken for an outage.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
from collections.abc import Awaitable, Callable, Generator
from typing import TYPE_CHECKING, Any, Union

import anyio
import anyio.lowlevel
import anyio.to_thread

from .core import EndReason, Limits, SessionRecord
from .errors import StoreUnavailable

if TYPE_CHECKING:
    from .stores.base import Store

__all__ = [
    "Call",
    "Check",
    "Create",
    "End",
    "PurgeExpired",
    "Reauthenticate",
    "RevokeSubject",
    "SessionsOf",
    "StepOf",
    "StoreCall",
    "drive_async",
    "drive_sync",
]


@dataclasses.dataclass(frozen=True, slots=True)
class Check:
    """Decide a request and apply its touch or expiry atomically.

    The step of [`Store.check`][idleguard.stores.Store.check].

    `carried` is the record a client-side store keeps in its own cookie.
    """

    key: str
    limits: Limits
    activity: bool
    now: float
    carried: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Create:
    """Store a new session.

    The step of [`Store.create`][idleguard.stores.Store.create].
    """

    key: str
    record: SessionRecord
    limits: Limits


@dataclasses.dataclass(frozen=True, slots=True)
class End:
    """End a session, leaving a tombstone.

    The step of [`Store.end`][idleguard.stores.Store.end].
    """

    key: str
    reason: EndReason
    now: float
    carried: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Reauthenticate:
    """Record a fresh authentication.

    The step of [`Store.reauthenticate`][idleguard.stores.Store.reauthenticate].
    """

    key: str
    now: float
    carried: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class PurgeExpired:
    """End every session past its deadline.

    The step of [`Store.purge_expired`][idleguard.stores.Store.purge_expired].
    """

    now: float


@dataclasses.dataclass(frozen=True, slots=True)
class SessionsOf:
    """The live sessions of a subject.

    The step of [`Store.sessions_of`][idleguard.stores.Store.sessions_of].
    """

    subject: str
    now: float


@dataclasses.dataclass(frozen=True, slots=True)
class RevokeSubject:
    """End every session of a subject.

    The step of [`Store.revoke_subject`][idleguard.stores.Store.revoke_subject].
    """

    subject: str
    now: float


@dataclasses.dataclass(frozen=True, slots=True)
class Call:
    """A call into the app's own code or an integration's: sync or async.

    A policy resolver, an `adopt` callback, an identity provider's key fetch.
    `awaited`, when given, is the async twin `drive_async` calls instead of
    `function` (which may then block, as a sync network client does).
    """

    function: Callable[..., Any]
    args: tuple[Any, ...] = ()
    awaited: Callable[..., Awaitable[Any]] | None = None


StoreCall = Union[Check, Create, End, Reauthenticate, PurgeExpired, SessionsOf, RevokeSubject]  # noqa: UP007
#: A step: a generator that yields calls, is sent their results, and returns `T`.
StepOf = Generator[Union[StoreCall, Call], Any, Any]  # noqa: UP007


def _carried(store: Store, carried: str | None) -> tuple[Any, ...]:
    # Only a client-side store takes the carried record as one more argument.
    return (carried,) if store.carrier is not None else ()


def _sync_call(store: Store, call: StoreCall) -> Any:
    if call.__class__ is Check:
        assert isinstance(call, Check)
        return store.check(
            call.key, call.limits, call.activity, call.now, *_carried(store, call.carried)
        )
    if isinstance(call, End):
        return store.end(call.key, call.reason, call.now, *_carried(store, call.carried))
    if isinstance(call, Create):
        return store.create(call.key, call.record, call.limits)
    if isinstance(call, Reauthenticate):
        return store.reauthenticate(call.key, call.now, *_carried(store, call.carried))
    if isinstance(call, PurgeExpired):
        return store.purge_expired(call.now)
    if isinstance(call, SessionsOf):
        return store.sessions_of(call.subject, call.now)
    if isinstance(call, RevokeSubject):
        return store.revoke_subject(call.subject, call.now)
    raise TypeError(f"not a store call: {call!r}")


def _async_call(store: Store, call: StoreCall) -> Awaitable[Any]:
    if call.__class__ is Check:
        assert isinstance(call, Check)
        return store.acheck(
            call.key, call.limits, call.activity, call.now, *_carried(store, call.carried)
        )
    if isinstance(call, End):
        return store.aend(call.key, call.reason, call.now, *_carried(store, call.carried))
    if isinstance(call, Create):
        return store.acreate(call.key, call.record, call.limits)
    if isinstance(call, Reauthenticate):
        return store.areauthenticate(call.key, call.now, *_carried(store, call.carried))
    if isinstance(call, PurgeExpired):
        return store.apurge_expired(call.now)
    if isinstance(call, SessionsOf):
        return store.asessions_of(call.subject, call.now)
    if isinstance(call, RevokeSubject):
        return store.arevoke_subject(call.subject, call.now)
    raise TypeError(f"not a store call: {call!r}")


def drive_sync(store: Store, step: StepOf) -> Any:
    """Run `step` against the store's sync methods; return what the step returns.

    An async resolver met here (a sync adapter with an async resolver) is run
    to completion in a fresh event loop on a worker thread of its own, so it
    works even when this thread already runs one.
    """
    send_value: Any = None
    error: BaseException | None = None
    while True:
        try:
            call = step.send(send_value) if error is None else step.throw(error)
        except StopIteration as stop:
            return stop.value
        try:
            if call.__class__ is Call:
                assert isinstance(call, Call)
                send_value = call.function(*call.args)
                if inspect.isawaitable(send_value):
                    send_value = _run_elsewhere(send_value)
            else:
                send_value = _sync_call(store, call)  # type: ignore[arg-type]
            error = None
        except Exception as failure:
            # Stores turn their driver's declared errors into StoreUnavailable;
            # anything else reaches the step as itself, to be refused and
            # logged as the bug it is.
            error, send_value = failure, None


def _run_elsewhere(awaitable: Awaitable[Any]) -> Any:
    import threading

    result: list[Any] = []
    failure: list[BaseException] = []

    async def wait() -> None:
        result.append(await awaitable)

    def run() -> None:
        try:
            anyio.run(wait)
        except BaseException as error:  # handed back to the caller's thread below
            failure.append(error)

    thread = threading.Thread(target=run, name="idleguard-resolver")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return result[0]


async def drive_async(
    store: Store,
    step: StepOf,
    timeout: float | None,  # noqa: ASYNC109 - a bound on each store call, not on the step
) -> Any:
    """Run `step` against the store's async methods, each call bounded by `timeout` seconds.

    Runs under any event loop anyio supports. Where the store's async client
    needs asyncio and the loop is another (trio), its sync methods run on a
    worker thread instead.
    """
    send_value: Any = None
    error: BaseException | None = None
    remote = getattr(store, "remote", False)  # the policy engine drives resolver calls only
    native = remote and _asyncio_running()
    while True:
        try:
            call = step.send(send_value) if error is None else step.throw(error)
        except StopIteration as stop:
            return stop.value
        try:
            # Only what may wait is bounded: a cancel scope costs microseconds, and code
            # that runs at once (a sync resolver, a check decided in-process) has no
            # waiting to cut short.
            if call.__class__ is Call:
                assert isinstance(call, Call)
                function = call.function if call.awaited is None else call.awaited
                send_value = function(*call.args)
                if inspect.isawaitable(send_value):
                    with anyio.fail_after(timeout):
                        send_value = await send_value
            elif call.__class__ is Check and (
                decided := store.decided_here(call.key, call.limits, call.activity, call.now)
            ):
                send_value = decided
            else:
                with anyio.fail_after(timeout):
                    if native or not remote:
                        send_value = await _async_call(store, call)  # type: ignore[arg-type]
                    else:
                        store_call: StoreCall = call  # type: ignore[assignment]
                        send_value = await anyio.to_thread.run_sync(
                            _sync_call, store, store_call, abandon_on_cancel=True
                        )
            error = None
        except TimeoutError:
            error, send_value = StoreUnavailable(f"no answer in {timeout} s"), None
        except Exception as failure:  # as in drive_sync: bugs stay bugs
            error, send_value = failure, None
        if error is not None:
            # A store failing without ever suspending must still let the loop
            # run other requests (and whatever is bringing the store back).
            await anyio.lowlevel.checkpoint()


def _asyncio_running() -> bool:
    # The Redis and SQL async clients are asyncio's; under trio there is no running loop.
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
