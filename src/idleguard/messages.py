"""Human words for how a session ended, and the browser client's words, in the reader's language.

A sign-in page reached by `/login?reason=idle` shows
`describe_end("idle", policy, locale="fr")` instead of the code; the browser
client's dialog takes its strings from the same catalogs (`client_texts()`,
served by the `status` endpoint). The catalogs are gettext message catalogs
in the package (`idleguard/locale/<language>/LC_MESSAGES/idleguard.mo`), read
with the standard library's `gettext`, so nothing more is installed.
English is the source language: a language without a catalog reads English.
"""

from __future__ import annotations

import enum
import functools
import gettext
import importlib.resources
import io
import math
from collections.abc import Callable, Mapping

from .core import EndReason
from .policy import Duration, Policy, to_seconds

__all__ = [
    "DOMAIN",
    "SOURCE_LANGUAGE",
    "STEP_UP",
    "available_languages",
    "client_texts",
    "describe_duration",
    "describe_end",
    "negotiate_language",
    "resolve_language",
]

#: The gettext domain: the catalogs are `locale/<language>/LC_MESSAGES/idleguard.mo`.
DOMAIN = "idleguard"
#: The language the messages are written in, and the answer for any language without a catalog.
SOURCE_LANGUAGE = "en"
#: Not a reason a session ends: the page asks for a fresh sign-in (a `step_up` path rule).
STEP_UP = "step_up"

#: Longer headers are cut before parsing: no browser sends one, and parsing is per request.
_MAX_ACCEPT_LANGUAGE = 512
_MINUTE = 60
_HOUR = 60 * _MINUTE
_DAY = 24 * _HOUR

Catalog = gettext.NullTranslations


@functools.cache
def available_languages() -> frozenset[str]:
    """The languages with a catalog in the package (directory names, such as `"fr"`)."""
    root = importlib.resources.files("idleguard") / "locale"
    found = {SOURCE_LANGUAGE}
    if root.is_dir():
        for entry in root.iterdir():
            if (entry / "LC_MESSAGES" / f"{DOMAIN}.mo").is_file():
                found.add(entry.name)
    return frozenset(found)


@functools.cache
def _by_tag() -> dict[str, str]:
    return {language.lower().replace("-", "_"): language for language in available_languages()}


def _match(tag: str) -> str | None:
    """The catalog for a language tag (`fr`, `fr-FR`, `fr_FR.UTF-8`), or `None`."""
    key = tag.strip().split(".", 1)[0].split("@", 1)[0].replace("-", "_").lower()
    catalogs = _by_tag()
    if key in catalogs:
        return catalogs[key]
    return catalogs.get(key.split("_", 1)[0])


def resolve_language(locale: str | None) -> str:
    """The catalog language for `locale`: `"fr-FR"`, `"fr_FR"` and `"fr"` give `"fr"`.

    Args:
        locale: A language tag (BCP 47 with `-` or POSIX with `_`), any case.
            `None`, an empty string or a language without a catalog give English.
    """
    if not isinstance(locale, str) or not locale.strip():
        return SOURCE_LANGUAGE
    return _match(locale) or SOURCE_LANGUAGE


def negotiate_language(requested: str | None, accept_language: str | None = None) -> str:
    """The catalog language for a page: its own language if there is a catalog for it,
    else the reader's best choice from `Accept-Language` that has one, else English.

    Args:
        requested: The page's language (`document.documentElement.lang`), or `None`.
        accept_language: The request's `Accept-Language` header, or `None`.
    """
    if isinstance(requested, str) and requested.strip():
        matched = _match(requested)
        if matched is not None:
            return matched
    if not accept_language:
        return SOURCE_LANGUAGE
    choices: list[tuple[float, int, str]] = []
    for position, item in enumerate(accept_language[:_MAX_ACCEPT_LANGUAGE].split(",")):
        tag, _, parameters = item.partition(";")
        quality = 1.0
        for parameter in parameters.split(";"):
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        # q=0 means "not this one"; a NaN fails the comparison too.
        if tag.strip() and tag.strip() != "*" and 0 < quality <= 1:
            choices.append((-quality, position, tag))
    for _, _, tag in sorted(choices):
        matched = _match(tag)
        if matched is not None:
            return matched
    return SOURCE_LANGUAGE


@functools.cache
def _catalog(language: str) -> Catalog:
    # Read as bytes through importlib.resources, so a zipped install works as well.
    source = importlib.resources.files("idleguard") / "locale" / language / "LC_MESSAGES"
    try:
        data = (source / f"{DOMAIN}.mo").read_bytes()
    except FileNotFoundError:
        # Without a catalog gettext answers the msgids themselves: English.
        return gettext.NullTranslations()
    return gettext.GNUTranslations(io.BytesIO(data))


def _whole_seconds(seconds: Duration) -> int:
    value = to_seconds(seconds, "seconds")
    if value is None:  # "no limit" is for the callers to word, not a length
        raise ValueError("seconds must be a number of seconds or a timedelta, not None")
    # Half a second rounds up, and any positive duration is at least one second:
    # "0 seconds" would read as no time at all.
    return max(1, math.floor(value + 0.5)) if value > 0 else 0


def _parts(total: int) -> list[tuple[str, int]]:
    """A whole number of seconds as (unit, count) pairs, largest first, zero counts left out."""
    if total % _MINUTE and total < 2 * _MINUTE:
        # "90 seconds" reads better than "1 minute 30 seconds".
        return [("second", total)]
    # Under two days in hours: "24 hours", "36 hours", as sign-in limits are usually said.
    days, rest = divmod(total, _DAY) if total >= 2 * _DAY else (0, total)
    hours, rest = divmod(rest, _HOUR)
    minutes, seconds = divmod(rest, _MINUTE)
    counted = (("day", days), ("hour", hours), ("minute", minutes), ("second", seconds))
    return [(unit, count) for unit, count in counted if count] or [("second", 0)]


# One function per unit so that each sentence is a literal the extractor finds.
_UNITS: dict[str, Callable[[Catalog, int], str]] = {
    "day": lambda catalog, count: catalog.ngettext("{count} day", "{count} days", count),
    "hour": lambda catalog, count: catalog.ngettext("{count} hour", "{count} hours", count),
    "minute": lambda catalog, count: catalog.ngettext("{count} minute", "{count} minutes", count),
    "second": lambda catalog, count: catalog.ngettext("{count} second", "{count} seconds", count),
}

# English says "its 8-hour limit", which other languages build differently: a whole
# sentence per unit lets each translation say it its own way.
_ABSOLUTE_IN_ONE_UNIT: dict[str, Callable[[Catalog, int], str]] = {
    # TRANSLATORS: {count} is a number of days, the only unit ("its 7-day limit").
    "day": lambda catalog, count: catalog.ngettext(
        "Your session reached its {count}-day limit. Please sign in again.",
        "Your session reached its {count}-day limit. Please sign in again.",
        count,
    ),
    # TRANSLATORS: {count} is a number of hours, the only unit ("its 8-hour limit").
    "hour": lambda catalog, count: catalog.ngettext(
        "Your session reached its {count}-hour limit. Please sign in again.",
        "Your session reached its {count}-hour limit. Please sign in again.",
        count,
    ),
    # TRANSLATORS: {count} is a number of minutes, the only unit ("its 90-minute limit").
    "minute": lambda catalog, count: catalog.ngettext(
        "Your session reached its {count}-minute limit. Please sign in again.",
        "Your session reached its {count}-minute limit. Please sign in again.",
        count,
    ),
    # TRANSLATORS: {count} is a number of seconds, the only unit ("its 90-second limit").
    "second": lambda catalog, count: catalog.ngettext(
        "Your session reached its {count}-second limit. Please sign in again.",
        "Your session reached its {count}-second limit. Please sign in again.",
        count,
    ),
}


def _duration(catalog: Catalog, parts: list[tuple[str, int]]) -> str:
    # Units side by side, as English and French both write them: "1 hour 30 minutes".
    return " ".join(_UNITS[unit](catalog, count).format(count=count) for unit, count in parts)


def describe_duration(seconds: Duration, locale: str | None = None) -> str:
    """A length of time in words: `"15 minutes"`, `"1 hour 30 minutes"`, `"90 seconds"`.

    Whole seconds (half a second rounds up), in days from two days on, then
    hours, minutes and seconds, leaving out the units that are zero. A duration
    under two minutes that is not a whole minute is said in seconds alone.

    Args:
        seconds: The length: seconds as a number, or a `datetime.timedelta`.
        locale: The language (`"fr"`, `"fr-FR"`, `"fr_FR"`); English without one.

    Raises:
        ValueError: `seconds` is negative, infinite or not a number.
    """
    return _duration(_catalog(resolve_language(locale)), _parts(_whole_seconds(seconds)))


def _idle(catalog: Catalog, limit: float | None) -> str:
    if limit is None:
        return catalog.gettext("You were signed out after a period without activity.")
    duration = _duration(catalog, _parts(_whole_seconds(limit)))
    # TRANSLATORS: {duration} is a length such as "30 minutes" or "1 hour 30 minutes".
    return catalog.gettext("You were signed out after {duration} without activity.").format(
        duration=duration
    )


def _absolute(catalog: Catalog, limit: float | None) -> str:
    if limit is None:
        return catalog.gettext("Your session reached its time limit. Please sign in again.")
    parts = _parts(_whole_seconds(limit))
    if len(parts) == 1:
        unit, count = parts[0]
        return _ABSOLUTE_IN_ONE_UNIT[unit](catalog, count).format(count=count)
    # TRANSLATORS: {duration} is a length in two units or more, such as "1 hour 30 minutes".
    sentence = catalog.gettext(
        "Your session reached its limit of {duration}. Please sign in again."
    )
    return sentence.format(duration=_duration(catalog, parts))


_WITHOUT_LIMITS: dict[str, Callable[[Catalog], str]] = {
    EndReason.SIGNED_OUT.value: lambda catalog: catalog.gettext("You signed out."),
    EndReason.REVOKED.value: lambda catalog: catalog.gettext(
        "Your session was ended. Please sign in again."
    ),
    EndReason.IDP_LOGOUT.value: lambda catalog: catalog.gettext(
        "You were signed out at your identity provider. Please sign in again."
    ),
    EndReason.INVALID.value: lambda catalog: catalog.gettext(
        "Your session could not be verified. Please sign in again."
    ),
    EndReason.UNKNOWN.value: lambda catalog: catalog.gettext(
        "Your sign-in was not recognized. Please sign in again."
    ),
    STEP_UP: lambda catalog: catalog.gettext(
        "For your security, this page asks you to sign in again."
    ),
}


def describe_end(reason: str, policy: Policy | None = None, *, locale: str | None = None) -> str:
    """The sentence a sign-in page shows for `?reason=` after idleguard ended a session.

    `describe_end("idle", Policy(idle_timeout=1800))` is "You were signed out
    after 30 minutes without activity."; `describe_end("absolute", policy)` is
    "Your session reached its 8-hour limit. Please sign in again."

    Args:
        reason: Why the session ended, as in the redirect's `reason` and the
            `401` body (an [`EndReason`][idleguard.EndReason] value), or
            `"step_up"` for a page that asks for a fresh sign-in. Any other
            value, `None` included, gives a general sentence: never the code
            itself, never an exception.
        policy: The policy the session lived under, to name its limits; without
            it, or with that limit off, the sentence names no duration.
        locale: The reader's language (`"fr"`, `"fr-FR"`, `"fr_FR"`); a
            language without a catalog, or none, gives English.
    """
    catalog = _catalog(resolve_language(locale))
    code = reason.value if isinstance(reason, enum.Enum) else reason
    code = code.strip().lower() if isinstance(code, str) else ""
    if code == EndReason.IDLE.value:
        return _idle(catalog, policy.idle_timeout if policy is not None else None)
    if code == EndReason.ABSOLUTE.value:
        return _absolute(catalog, policy.absolute_timeout if policy is not None else None)
    sentence = _WITHOUT_LIMITS.get(code)
    if sentence is not None:
        return sentence(catalog)
    return catalog.gettext("Your session has ended. Please sign in again.")


def _client_catalog_texts(catalog: Catalog) -> dict[str, str]:
    return {
        "title": catalog.gettext("Your session is about to end"),
        # TRANSLATORS: {time} is the countdown, minutes and seconds such as 1:30.
        "body": catalog.gettext("You will be signed out in {time} because there was no activity."),
        # TRANSLATORS: {time} is the countdown, minutes and seconds such as 1:30.
        "bodyAbsolute": catalog.gettext(
            "Your session reaches its time limit in {time}. Save your work, then sign in again."
        ),
        "stay": catalog.gettext("Stay logged in"),
        "ok": catalog.gettext("OK"),
        "signOut": catalog.gettext("Sign me out"),
        # TRANSLATORS: {time} is the countdown, minutes and seconds such as 1:30.
        "announce": catalog.gettext("You will be signed out in {time}."),
    }


@functools.cache
def _client_texts(language: str) -> Mapping[str, str]:
    return _client_catalog_texts(_catalog(language))


def client_texts(locale: str | None = None) -> Mapping[str, str]:
    """The browser client's strings (its `texts` option) in `locale`'s language.

    Built once per language and shared: do not change the mapping. `{time}`
    in a string stands for the countdown.

    Args:
        locale: The language (`"fr"`, `"fr-FR"`, `"fr_FR"`); English without one.
    """
    return _client_texts(resolve_language(locale))
