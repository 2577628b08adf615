"""Redaction: what looks like a secret is replaced before an event leaves the library.

Every string in an event (path, user agent, subject, tenant, metadata keys and
values, at any depth) goes through the value rules; a metadata value whose
*key* names a secret (`password`, `api_key`, `cookie`, ...) is replaced
whole. Then each field is cut to `max_field_bytes` with a marker. Redaction
runs first, so a cut can never leave half a secret that no rule recognises.

The rules are regular expressions written to run in linear time on hostile
input (a megabyte of `a` costs the same as a megabyte of text).

[`printable`][idleguard.audit.printable] is the other half of making text safe to
write out: it shows control characters as escapes, so a value taken from a request stays on
one log line and cannot drive the terminal that displays it.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..events import Event

__all__ = [
    "DEFAULT_MAX_FIELD_BYTES",
    "DEFAULT_RULES",
    "REDACTED",
    "SENSITIVE_KEY",
    "Redactor",
    "Rule",
    "printable",
    "truncate",
]

#: What a secret becomes.
REDACTED = "[REDACTED]"
#: Each field is cut to this many bytes of UTF-8 (10 KB), marker included.
DEFAULT_MAX_FIELD_BYTES = 10 * 1024

#: Strings up to this length have their redaction remembered (an LRU of 4096).
_CACHED_LENGTH = 512

Replacement = str | Callable[["re.Match[str]"], str]


@dataclasses.dataclass(frozen=True, slots=True)
class Rule:
    """One value rule: every match of `pattern` is replaced by `replacement`.

    Attributes:
        name: Identifies the rule in docs and tests.
        pattern: What to replace.
        replacement: A `re.sub` template (`r"\\1[REDACTED]"`) or a function of
            the match. Default `REDACTED`.
        hints: Lower-case substrings one of which every match contains: text
            (case-folded) holding none of them skips the rule. A fast path
            only.
    """

    name: str
    pattern: re.Pattern[str]
    replacement: Replacement = REDACTED
    hints: tuple[str, ...] = ()

    def apply(self, text: str, folded: str | None = None) -> str:
        """`text` with every match replaced.

        Args:
            text: The text.
            folded: `text.casefold()`, if the caller already has it.

        Returns:
            The text with every match replaced.
        """
        if self.hints:
            folded = text.casefold() if folded is None else folded
            if not any(hint in folded for hint in self.hints):
                return text
        return self.pattern.sub(self.replacement, text)


_SEP = r"[-_.\s]"
#: Metadata keys whose whole value is a secret (matched on the lower-cased key).
SENSITIVE_KEY = re.compile(
    r"password|passwd|passphrase|secret|token|api" + _SEP + r"?key|access" + _SEP + r"?key"
    r"|private" + _SEP + r"?key|account" + _SEP + r"?key"
    r"|cookie|authori[sz]ation|credential|signature"
    r"|session" + _SEP + r"?id|connection" + _SEP + r"?string"
    r"|(?:^|" + _SEP + r")(?:key|pwd|pass|pin|auth|dsn|sid|jwt|otp)(?:$|" + _SEP + r")"
)

# Key names in text ("password=...", "accessToken: ...", "DBPASS=..."). A name that
# contains one of the long words is a secret's name whatever comes before it, glued on
# or not (newPassword, clientSecret, SharedAccessKey). The short words are too common
# inside ordinary words (compass, outside, oauth) to be taken there: they count after a
# separator (db_pass), capitalized after a prefix (dbPass) or in an upper-case name
# (DBPASS).
_LONG_KEYWORDS = (
    r"password|passwd|passphrase|secret|token|api[-_]?key|access[-_]?key|private[-_]?key"
    r"|account[-_]?key|session[-_]?id|cookie|credentials?|signature"
)
_SHORT_KEYWORDS = r"pwd|pass|auth|sid|jwt"
# Every quantifier is bounded, and a name starts only where a word does (the lookbehind
# in the rule), so each start costs a bounded number of steps.
_KEY_NAME = (
    r"(?:[A-Za-z0-9]{1,24}[-_.]?)?(?:" + _LONG_KEYWORDS + r")"
    r"|(?:[A-Za-z0-9]{1,24}[-_.])?(?:" + _SHORT_KEYWORDS + r")"
    r"|(?-i:[A-Za-z0-9]{1,24}(?:Pwd|Pass|Auth|Sid|Jwt))"
    r"|(?-i:[A-Z0-9]{1,24}(?:PWD|PASS|AUTH|SID|JWT))"
)


_KEYWORD_HINTS = (
    "pass",
    "pwd",
    "secret",
    "token",
    "key",
    "auth",
    "sid",
    "session",
    "cookie",
    "credential",
    "signature",
    "jwt",
)


def _long_token(match: re.Match[str]) -> str:
    token = match.group(0)
    has_digit = any(char.isdigit() for char in token)
    has_letter = any(char.isalpha() for char in token)
    if not (has_digit and has_letter) or _UUID.fullmatch(token):
        return token  # a word run or a UUID: an identifier, not a key
    return REDACTED


def _aws_secret(match: re.Match[str]) -> str:
    run = match.group(0)
    # AWS secret access keys are random, so they nearly always hold both cases and a
    # digit. A run starting with "/" is far more often a path than a key (one key in
    # 64 starts that way, and then only its name before it gives it away).
    if run.startswith("/") or not (
        any(char.isupper() for char in run)
        and any(char.islower() for char in run)
        and any(char.isdigit() for char in run)
    ):
        return run
    return REDACTED


def _jwt(match: re.Match[str]) -> str:
    run = match.group(0)
    head, dot, rest = run.partition(".")
    if not dot or len(head) < 5 or not rest.strip("."):
        return run
    return REDACTED


_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

#: The built-in value rules, applied in this order.
DEFAULT_RULES: tuple[Rule, ...] = (
    Rule(
        "private_key_block",
        re.compile(
            r"-----BEGIN [A-Z ]{0,40}PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]{0,40}-----|$)"
        ),
        hints=("private key",),
    ),
    # scheme://user:password@host and scheme://token@host: the whole userinfo goes.
    # A password may hold "/" (unescaped, as people write them: postgresql://u:pa/ss@h);
    # "host:8080/path/@name" is a port and a path, and is left alone. That second form
    # stops at any ":", so each scan ends before the next "://": linear time.
    Rule(
        "uri_credentials",
        re.compile(
            r"(?<![A-Za-z0-9+.-])([A-Za-z][A-Za-z0-9+.-]{0,31}://)"
            r"(?:[^\s/?#]{0,2048}|[^\s/?#@:\[\]]{0,256}:(?!\d{1,5}/)[^\s?#@:]{1,2048})@"
        ),
        r"\1" + REDACTED + "@",
        ("://",),
    ),
    Rule(
        "cookie_header",
        re.compile(r"(?im)\b((?:set-)?cookie)([ \t]*:)[^\r\n]*"),
        r"\1\2 " + REDACTED,
        ("cookie",),
    ),
    Rule(
        "authorization_header",
        re.compile(r"(?im)\b((?:proxy-)?authorization)([ \t]*[:=])[^\r\n]*"),
        r"\1\2 " + REDACTED,
        ("authorization",),
    ),
    # password=..., "api_key": "...", client_secret=..., Pwd=...; (query strings,
    # connection strings, JSON and log lines alike). Before the scheme rules, which would
    # otherwise take the key's name for a scheme's value ("APIKEY password: <secret>").
    Rule(
        "key_value",
        re.compile(
            # The lookahead rejects, in one pass over the word, every word that no ":"
            # or "=" follows, before the key name's alternatives are tried on it. It
            # takes the run of name characters once and cannot give any back (the
            # inner lookahead and the backreference stand for an atomic group, which
            # Python 3.10 lacks): a key name is at most 61 characters, the run 64.
            r"(?i)(?<![A-Za-z0-9])"
            r"(?=(?=(?P<run>[A-Za-z0-9_.-]{1,64}))(?P=run)[\"']?[ \t]*[:=])"
            r"(?P<key>(?:" + _KEY_NAME + r")(?:[-_.]?[A-Za-z0-9]{1,24})?)"
            r"(?P<separator>[\"']?[ \t]*[:=][ \t]*)(\"[^\"\r\n]*\"|'[^'\r\n]*'|[^\s;&,\"'}]+)"
        ),
        r"\g<key>\g<separator>" + REDACTED,
        _KEYWORD_HINTS,
    ),
    # The value runs through any "=" ("APIKEY password=<secret>"), and a second scheme
    # word ("APIKEY Bearer <token>") is not the secret: what follows it is.
    Rule(
        "authorization_scheme",
        re.compile(
            r"(?i)\b(bearer|basic|digest|apikey|api-key|negotiate)(\s+)"
            r"(?:(?:bearer|basic|digest|apikey|api-key|negotiate)\s+)*"
            r"[A-Za-z0-9._~+/-][=A-Za-z0-9._~+/-]*"
        ),
        r"\1\2" + REDACTED,
        ("bearer", "basic", "digest", "apikey", "api-key", "negotiate"),
    ),
    Rule(
        "token_scheme",
        re.compile(r"(?i)\b(token)(\s+)(?=[A-Za-z0-9._~+/-]{0,512}\d)[A-Za-z0-9._~+/-]{16,}=*"),
        r"\1\2" + REDACTED,
        ("token",),
    ),
    # The whole run is taken, then judged: a pattern that looked for the dot
    # would rescan the run from every "eyJ" in it (quadratic on hostile input).
    Rule("jwt", re.compile(r"eyJ[A-Za-z0-9_.-]+"), _jwt, ("eyj",)),
    Rule(
        "vendor_api_key",
        re.compile(
            r"(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{8,}|sk-[A-Za-z0-9_-]{16,}"
            r"|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|xox[abprs]-[A-Za-z0-9-]{10,}"
            r"|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_-]{35}|glpat-[A-Za-z0-9_-]{20,}"
        ),
    ),
    # The whole path after /services/ is the credential (team, channel and token).
    Rule(
        "slack_webhook",
        re.compile(
            r"(?i)(hooks\.slack\.com/(?:services|workflows|triggers)/)[A-Za-z0-9/_-]{1,256}"
        ),
        r"\1" + REDACTED,
        ("hooks.slack.com",),
    ),
    # An AWS secret access key on its own: exactly 40 characters of base64, where "/"
    # splits the run the long_token rule looks for. The lookarounds take only a whole
    # run, so each position is tried once.
    Rule(
        "aws_secret_access_key",
        re.compile(r"(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+])"),
        _aws_secret,
    ),
    # Any other long run of key characters mixing letters and digits (random API
    # keys, hex secrets, tokens in a path). UUIDs and plain words are left alone.
    Rule("long_token", re.compile(r"[A-Za-z0-9_+-]{32,}={0,2}"), _long_token),
)


def truncate(text: str, max_bytes: int) -> str:
    """`text` cut to at most `max_bytes` bytes of UTF-8, ending with a marker if cut.

    Args:
        text: The text.
        max_bytes: The most bytes of UTF-8 the result may take, marker included.

    Returns:
        The text, or its start and `...[truncated N bytes]`.
    """
    # Lone surrogates cannot be written as UTF-8: they become "?" here, once.
    encoded = text.encode("utf-8", "replace")
    if len(encoded) <= max_bytes:
        return encoded.decode("utf-8")
    marker = f"...[truncated {len(encoded)} bytes]"
    keep = max(0, max_bytes - len(marker.encode()))
    return encoded[:keep].decode("utf-8", "ignore") + marker


# C0 controls, DEL and C1 controls (ESC, CR, LF, NEL, CSI, ...); the Unicode line and
# paragraph separators, which log viewers and editors break lines on; the bidirectional
# embeddings, overrides and isolates, which reorder what a reader sees ("Trojan Source");
# lone surrogates, which UTF-8 cannot encode, so a log handler would drop the record; and
# the backslash, so that every escape in the output stands for a character of the input.
_UNPRINTABLE = re.compile(
    r"[\\\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_SHORT_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group(0)
    short = _SHORT_ESCAPES.get(char)
    if short is not None:
        return short
    code = ord(char)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: str) -> str:
    """`text` made safe for one log line or a terminal, control characters shown as escapes.

    C0 control characters (newline, carriage return and ESC among them), DEL, C1
    control characters, the line and paragraph separators U+2028 and U+2029, the
    bidirectional embeddings, overrides and isolates (U+202A to U+202E, U+2066 to
    U+2069) and lone surrogates are written in Python's escape notation (`\\n`,
    `\\x1b`, `\\x85`, `\\u202e`); a backslash is doubled, so the result reads
    back unambiguously. Every other character, accented letters and other scripts
    included, is kept as it is.

    Use it on any text a client chose (a request path, a header, a tenant name)
    before it goes into a log message or onto a terminal:

    ```python
    logger.info("idleguard explain %s %s", facts.method, printable(facts.path))
    ```

    Args:
        text: The text to write out.

    Returns:
        The same text with each of those characters replaced by its escape, on
        one line.
    """
    return _UNPRINTABLE.sub(_escape, text)


class Redactor:
    """Replaces secrets in events; user-extendable.

    Args:
        rules: The value rules, in order. Default `DEFAULT_RULES`; to add your
            own keep the defaults: `Redactor(rules=[*DEFAULT_RULES, my_rule])`,
            or pass `extra_rules=`.
        extra_rules: Rules applied after `rules`.
        sensitive_key: A pattern over lower-cased metadata keys: a match
            replaces the whole value.
        extra_sensitive_keys: More key names (exact, case-insensitive) to treat
            as secrets.
        max_field_bytes: Each field's limit in bytes of UTF-8 (default 10 KB).
            A longer string is cut with `...[truncated N bytes]`; a longer
            `metadata` or `policy` becomes `{"_truncated": "<its JSON, cut>"}`.

    Raises:
        ValueError: `max_field_bytes` is less than 64.
    """

    def __init__(
        self,
        rules: Iterable[Rule] = DEFAULT_RULES,
        *,
        extra_rules: Iterable[Rule] = (),
        sensitive_key: re.Pattern[str] = SENSITIVE_KEY,
        extra_sensitive_keys: Iterable[str] = (),
        max_field_bytes: int = DEFAULT_MAX_FIELD_BYTES,
    ) -> None:
        if max_field_bytes < 64:
            raise ValueError("max_field_bytes must be at least 64 bytes")
        self.rules = (*rules, *extra_rules)
        self.sensitive_key = sensitive_key
        self.extra_sensitive_keys = frozenset(key.lower() for key in extra_sensitive_keys)
        self.max_field_bytes = max_field_bytes
        # Short values repeat (methods, tenants, user agents, policy keys): remember them.
        self._cached_text = functools.lru_cache(maxsize=4096)(self._text)

    def text(self, value: str) -> str:
        """One string with every rule applied (not truncated).

        Args:
            value: The string.

        Returns:
            The string, redacted.
        """
        if len(value) <= _CACHED_LENGTH:
            return self._cached_text(value)
        return self._text(value)

    def _text(self, value: str) -> str:
        for rule in self.rules:
            value = rule.apply(value, value.casefold())
        return value

    def key_is_sensitive(self, key: str) -> bool:
        """True when a value stored under `key` is a secret whatever it looks like.

        Args:
            key: A metadata key.

        Returns:
            Whether the key names a secret.
        """
        lowered = key.lower()
        return lowered in self.extra_sensitive_keys or bool(self.sensitive_key.search(lowered))

    def value(self, value: Any, depth: int = 0) -> Any:
        """A JSON-shaped value redacted at any depth; other objects become strings.

        Args:
            value: The value.
            depth: How deep `value` is already (deeper than 20 is cut off).

        Returns:
            The value redacted, every string within `max_field_bytes`.
        """
        if value is None or isinstance(value, (bool, int, float)):
            return value
        if isinstance(value, str):
            return truncate(self.text(value), self.max_field_bytes)
        if depth > 20:
            return "[too deep]"
        if isinstance(value, Mapping):
            result: dict[str, Any] = {}
            for raw_key, item in value.items():
                key = truncate(self.text(str(raw_key)), 256)
                if self.key_is_sensitive(str(raw_key)) and item is not None:
                    result[key] = REDACTED
                else:
                    result[key] = self.value(item, depth + 1)
            return result
        if isinstance(value, (list, tuple, set, frozenset)):
            return [self.value(item, depth + 1) for item in value]
        return self.value(str(value), depth)

    def event(self, event: Event) -> Event:
        """The event with secrets replaced and every field within `max_field_bytes`.

        `type`, `at`, `session` (already a keyed hash) and `idle_seconds`
        are the library's own and pass unchanged.

        Args:
            event: The event.

        Returns:
            A redacted copy.
        """
        changes: dict[str, Any] = {}
        for name in ("subject", "tenant", "reason", "path", "method", "client_ip", "user_agent"):
            current = getattr(event, name)
            if current is not None:
                changes[name] = self.value(str(current))
        changes["metadata"] = self._bounded(self.value(event.metadata))
        if event.policy is not None:
            changes["policy"] = self._bounded(self.value(event.policy))
        return dataclasses.replace(event, **changes)

    def _bounded(self, mapping: Any) -> Any:
        encoded = json.dumps(mapping, ensure_ascii=False, default=str)
        if len(encoded.encode()) <= self.max_field_bytes:
            return mapping
        return {"_truncated": truncate(encoded, self.max_field_bytes - 32)}
