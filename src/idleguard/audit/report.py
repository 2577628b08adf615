"""The auditor's report: sessions ended by reason, timeout changes with actor, policy per tenant.

Built from the events a [`JsonLinesSink`][idleguard.audit.JsonLinesSink] or
[`SqlSink`][idleguard.audit.SqlSink] kept; `python -m idleguard audit` prints it
as text, CSV or JSON (and, with `idleguard.audit.html_report`, as a page).

Tenants, subjects, actors and reasons come from requests and from whoever could
write to the log, so each output form treats them as hostile: the text form
shows control characters as escapes ([`printable`][idleguard.audit.printable]),
so a value cannot forge a line or drive the terminal; the CSV form prefixes `'`
to a cell a spreadsheet would run as a formula; JSON escapes them by itself.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from ..events import Event, EventType
from .redaction import printable

__all__ = ["Report", "build_report", "read_json_lines", "render"]

NO_TENANT = "(none)"
_ENDINGS = {
    EventType.SESSION_ENDED: "signed_out",
    EventType.SESSION_EXPIRED_INACTIVITY: "idle",
    EventType.SESSION_EXPIRED_ABSOLUTE: "absolute",
    EventType.SESSION_REVOKED: "revoked",
}
CSV_COLUMNS = (
    "section",
    "tenant",
    "subject",
    "scope",
    "reason",
    "count",
    "at",
    "actor",
    "old",
    "new",
    "idle_timeout",
    "absolute_timeout",
)
# A spreadsheet runs a cell that starts with one of these as a formula; tab, CR and LF
# are dropped by some importers, leaving what follows them at the start.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


@dataclasses.dataclass
class Report:
    """What the report says; times are seconds since the epoch.

    `ended` maps `(tenant, reason)` to the number of sessions that ended that
    way in the period, and `ended_by_day` maps `(day, reason)` to the same over
    every tenant, `day` as `YYYY-MM-DD` in UTC; `changes` lists every
    `inactivity_timeout_updated` in the period (`at`, `tenant`, `scope`,
    `subject`, `actor`, `old`, `new`); `policies` maps each tenant to the policy
    in force at the end of the period and when it was last seen (events before
    the period count here). `skipped` counts records that were not readable
    events. `expected` and `drift` are set when the report was asked to compare the
    recorded limits with expected ones (`idleguard audit --expect-preset`): the limits, and
    every [`DriftPeriod`][idleguard.audit.drift.DriftPeriod] in the period.
    """

    since: float | None
    until: float | None
    ended: dict[tuple[str, str], int] = dataclasses.field(default_factory=dict)
    ended_by_day: dict[tuple[str, str], int] = dataclasses.field(default_factory=dict)
    changes: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    policies: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
    events: int = 0
    skipped: int = 0
    expected: dict[str, Any] | None = None
    drift: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    def totals(self) -> dict[str, int]:
        """Sessions ended in the period, by reason, over every tenant."""
        totals: dict[str, int] = {}
        for (_, reason), count in sorted(self.ended.items()):
            totals[reason] = totals.get(reason, 0) + count
        return totals


def read_json_lines(lines: Iterable[str], counter: list[int] | None = None) -> Iterator[Event]:
    """Events from JSON Lines; an unreadable line is skipped and counted in `counter[0]`."""
    for line in lines:
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            if not isinstance(data, dict):
                raise ValueError("not an object")
            yield Event.from_dict(data)
        except ValueError:
            if counter is not None:
                counter[0] += 1


def build_report(
    events: Iterable[Event],
    since: float | None = None,
    until: float | None = None,
    tenant: str | None = None,
) -> Report:
    """Fold events (any order) into a `Report` for `[since, until)`.

    `tenant` keeps one tenant only. Events before `since` still decide the
    policy in force; events at or after `until` are ignored.
    """
    report = Report(since, until)
    for event in sorted(events, key=lambda event: event.at):
        if until is not None and event.at >= until:
            continue
        name = event.tenant or NO_TENANT
        if tenant is not None and name != tenant:
            continue
        _track_policy(report, name, event)
        if since is not None and event.at < since:
            continue
        report.events += 1
        reason = _ENDINGS.get(event.type)
        if reason is not None:
            key = (name, event.reason or reason)
            report.ended[key] = report.ended.get(key, 0) + 1
            day = (_day(event.at), key[1])
            report.ended_by_day[day] = report.ended_by_day.get(day, 0) + 1
        elif event.type is EventType.INACTIVITY_TIMEOUT_UPDATED:
            report.changes.append(
                {
                    "at": event.at,
                    "tenant": name,
                    "scope": event.metadata.get("scope"),
                    "subject": event.subject,
                    "actor": event.metadata.get("actor"),
                    "old": event.metadata.get("old"),
                    "new": event.metadata.get("new"),
                }
            )
    return report


def idle_of(value: Any) -> Any:
    """The idle limit in a change's `old` or `new`: a number, or a policy's `idle_timeout`."""
    if isinstance(value, dict):
        return value.get("idle_timeout")
    return value


def _track_policy(report: Report, tenant: str, event: Event) -> None:
    if event.type is EventType.INACTIVITY_TIMEOUT_UPDATED:
        if event.metadata.get("scope") == "user" or event.subject is not None:
            return  # one user's own choice, within the tenant's policy
        current = dict(report.policies.get(tenant, {}))
        if event.policy:
            current.update(event.policy)
        elif "new" in event.metadata:
            current["idle_timeout"] = idle_of(event.metadata["new"])
        current["since"] = event.at
        current["set_by"] = event.metadata.get("actor")
        report.policies[tenant] = current
    elif event.policy:
        previous = report.policies.get(tenant)
        seen = {key: value for key, value in event.policy.items()}
        if previous is None or any(previous.get(key) != value for key, value in seen.items()):
            report.policies[tenant] = {**seen, "since": event.at, "set_by": None}


def _day(at: float) -> str:
    return datetime.fromtimestamp(at, timezone.utc).date().isoformat()


def _iso(at: float | None) -> str:
    return "" if at is None else datetime.fromtimestamp(at, timezone.utc).isoformat()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _shown(value: Any) -> str:
    return printable(_cell(value))


def _inert(cell: str) -> str:
    """`cell` with `'` in front when a spreadsheet would read it as a formula (OWASP)."""
    # Leading spaces count too: importers that trim them would leave the formula first.
    if cell.startswith(_FORMULA_STARTS) or cell.lstrip().startswith(_FORMULA_STARTS):
        return "'" + cell
    return cell


def as_rows(report: Report) -> list[dict[str, str]]:
    """The report as flat rows (one table, `CSV_COLUMNS`), ready for a spreadsheet.

    Every cell that would start a formula (`=`, `+`, `-`, `@`, tab, CR or
    LF, after any spaces) begins with `'`, which spreadsheets read as "text".
    """
    rows: list[dict[str, str]] = []
    for (tenant, reason), count in sorted(report.ended.items()):
        rows.append(
            {
                "section": "ended",
                "tenant": _cell(tenant),
                "reason": _cell(reason),
                "count": str(count),
            }
        )
    for change in report.changes:
        rows.append(
            {
                "section": "timeout_change",
                "tenant": _cell(change["tenant"]),
                "at": _iso(change["at"]),
                "subject": _cell(change["subject"]),
                "scope": _cell(change["scope"]),
                "actor": _cell(change["actor"]),
                "old": _cell(idle_of(change["old"])),
                "new": _cell(idle_of(change["new"])),
            }
        )
    for period in report.drift:
        rows.append(
            {
                "section": f"drift_{period['direction']}",
                "tenant": _cell(period["tenant"]),
                "at": _iso(period["since"]),
                "count": str(period["events"]),
                "idle_timeout": _cell(period["idle_timeout"]),
                "absolute_timeout": _cell(period["absolute_timeout"]),
            }
        )
    for tenant, policy in sorted(report.policies.items()):
        rows.append(
            {
                "section": "policy",
                "tenant": _cell(tenant),
                "at": _iso(policy.get("since")),
                "actor": _cell(policy.get("set_by")),
                "idle_timeout": _cell(policy.get("idle_timeout")),
                "absolute_timeout": _cell(policy.get("absolute_timeout")),
            }
        )
    # Every cell, not only those known to hold text from a request: a column added
    # later is covered without anyone remembering to.
    return [{column: _inert(row.get(column, "")) for column in CSV_COLUMNS} for row in rows]


def as_json(report: Report) -> dict[str, Any]:
    """The report as a JSON-ready dict (times in ISO 8601 UTC)."""
    return {
        "period": {"since": _iso(report.since) or None, "until": _iso(report.until) or None},
        "events": report.events,
        "skipped_records": report.skipped,
        "sessions_ended": {
            "by_reason": report.totals(),
            "by_tenant": [
                {"tenant": tenant, "reason": reason, "count": count}
                for (tenant, reason), count in sorted(report.ended.items())
            ],
        },
        "timeout_changes": [{**change, "at": _iso(change["at"])} for change in report.changes],
        "policy_in_force": [
            {
                "tenant": tenant,
                **{k: v for k, v in policy.items() if k != "since"},
                "since": _iso(policy.get("since")),
            }
            for tenant, policy in sorted(report.policies.items())
        ],
        **(
            {}
            if report.expected is None
            else {
                "expected": report.expected,
                "drift": [
                    {
                        **period,
                        "since": _iso(period["since"]),
                        "until": _iso(period["until"]) or None,
                    }
                    for period in report.drift
                ],
            }
        ),
    }


def render(report: Report, form: str, out: TextIO) -> None:
    """Write the report to `out` as `text`, `csv` or `json`."""
    if form == "json":
        json.dump(as_json(report), out, indent=2, sort_keys=False, default=str)
        out.write("\n")
    elif form == "csv":
        # Every cell quoted: the writer would leave a lone CR unquoted (it only looks
        # for the "\n" terminator), and readers would start a new row there.
        writer = csv.DictWriter(
            out, fieldnames=CSV_COLUMNS, lineterminator="\n", quoting=csv.QUOTE_ALL
        )
        writer.writeheader()
        writer.writerows(as_rows(report))
    elif form == "text":
        out.write(_text(report))
    else:
        raise ValueError(f"unknown format {form!r}: use text, csv or json")


def _text(report: Report) -> str:
    # Every value below may come from a request or a tampered log: each goes through
    # _shown before it is padded, so one record stays on one line.
    buffer = io.StringIO()
    since, until = _iso(report.since) or "the beginning", _iso(report.until) or "now"
    buffer.write(f"idleguard audit report: {since} to {until}\n")
    buffer.write(f"{report.events} event(s) in the period")
    buffer.write(f"; {report.skipped} unreadable record(s) skipped\n" if report.skipped else "\n")
    buffer.write("\nSessions ended, by reason\n")
    totals = report.totals()
    if not totals:
        buffer.write("  none\n")
    for reason, count in totals.items():
        buffer.write(f"  {_shown(reason):<12} {count:>8}\n")
    if len({tenant for tenant, _ in report.ended}) > 1:
        buffer.write("  by tenant:\n")
        for (tenant, reason), count in sorted(report.ended.items()):
            buffer.write(f"    {_shown(tenant):<20} {_shown(reason):<12} {count:>8}\n")
    buffer.write("\nInactivity timeout changes\n")
    if not report.changes:
        buffer.write("  none\n")
    for change in report.changes:
        buffer.write(
            f"  {_iso(change['at'])}  tenant {_shown(change['tenant'])}"
            + (f"  user {_shown(change['subject'])}" if change["subject"] else "")
            + f"  by {_shown(change['actor']) or '?'}"
            f"  idle {_shown(idle_of(change['old'])) or '-'} -> {_shown(idle_of(change['new'])) or '-'}\n"
        )
    buffer.write("\nPolicy in force, by tenant (seconds)\n")
    if not report.policies:
        buffer.write("  none seen\n")
    for tenant, policy in sorted(report.policies.items()):
        buffer.write(
            f"  {_shown(tenant):<20} idle {_shown(policy.get('idle_timeout')) or 'off':>8}"
            f"  absolute {_shown(policy.get('absolute_timeout')) or 'off':>8}"
            f"  since {_iso(policy.get('since'))}\n"
        )
    if report.expected is not None:
        expected = report.expected
        buffer.write(
            f"\nDrift from the expected policy (idle {_shown(expected['idle_timeout']) or '-'}, "
            f"absolute {_shown(expected['absolute_timeout']) or '-'}, "
            f"tolerance {_shown(expected['tolerance'])}; seconds)\n"
        )
        if not report.drift:
            buffer.write("  none: every recorded policy was the expected one\n")
        for period in report.drift:
            buffer.write(
                f"  {period['direction'].upper():<9} {_shown(period['tenant']):<20}"
                f" {_iso(period['since'])} to {_iso(period['until']) or 'the end'}"
                f"  idle {_shown(period['idle_timeout']) or 'off'}"
                f"  absolute {_shown(period['absolute_timeout']) or 'off'}"
                f"  ({period['events']} event(s))\n"
            )
    return buffer.getvalue()


def load(
    source: str, *, table: str | None = None, until: float | None = None
) -> tuple[list[Event], int]:
    """Events from a JSON Lines file (a path, `-` for stdin) or a SQL database URL.

    Returns the events and the number of unreadable records skipped.
    """
    if "://" in source:
        from .sql import DEFAULT_TABLE, read_events

        return list(read_events(source, table or DEFAULT_TABLE, until=until)), 0
    counter = [0]
    if source == "-":
        import sys

        return list(read_json_lines(sys.stdin, counter)), counter[0]
    with Path(source).open(encoding="utf-8", errors="replace") as lines:
        return list(read_json_lines(lines, counter)), counter[0]
