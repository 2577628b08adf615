"""The auditor's report as one HTML page an assessor can keep: `idleguard audit --format html`.

The page stands alone: its style is inline, its chart (sessions ended per day, by reason,
drawn by matplotlib) is an SVG image in a `data:` URI, and its Content-Security-Policy
allows nothing else, so opening it makes no request and runs no script. Every value from
the events (tenants, subjects, actors, reasons: all chosen by whoever could write the log)
goes through `idleguard.audit.redaction.printable`, which shows control and
bidirectional characters as escapes, and then through Jinja2's autoescaping; in the chart,
a reason is drawn as glyph outlines and never read as matplotlib markup.

Jinja2 and matplotlib are the `report` extra (`pip install "idleguard[report]"`); they
are imported when a page is made.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import json
from datetime import date, datetime, timedelta, timezone
from importlib import resources
from typing import TYPE_CHECKING, Any, TextIO

from .redaction import printable
from .report import Report, as_json, idle_of

if TYPE_CHECKING:
    import jinja2

__all__ = [
    "REQUIREMENTS",
    "ended_per_day_chart",
    "missing_requirement",
    "page_environment",
    "page_style",
    "render_html",
]

#: The packages a page needs, and the extra that brings them.
REQUIREMENTS = ("jinja2", "matplotlib")
EXTRA = "report"
#: The reasons the middleware writes, in the order the chart stacks them.
KNOWN_REASONS = ("idle", "absolute", "signed_out", "revoked", "idp_logout")
#: A log can hold any number of made-up reasons; past this many, the rest are one "other".
MAX_CHART_REASONS = 8
OTHER = "other"
#: Colours a reader with common colour blindness can tell apart (Okabe and Ito).
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#000000",
    "#999999",
)


def missing_requirement() -> str | None:
    """What a page needs that is not installed, with the command that installs it."""
    for module in REQUIREMENTS:
        if importlib.util.find_spec(module) is None:
            return f'{module}, which is not installed: pip install "idleguard[{EXTRA}]"'
    return None


def _shown(value: Any) -> str:
    """A value as a cell shows it: text with control characters as escapes."""
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        value = json.dumps(value, sort_keys=True)
    elif isinstance(value, float) and value.is_integer():
        value = int(value)
    return printable(str(value))


def _moment(text: Any) -> str:
    """An ISO 8601 time from the report as a table shows it: `2026-07-01 09:30:00` (UTC)."""
    if not isinstance(text, str) or not text:
        return ""
    return datetime.fromisoformat(text).astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _chart_reasons(report: Report) -> list[str]:
    totals = report.totals()
    others = sorted(
        (reason for reason in totals if reason not in KNOWN_REASONS),
        key=lambda reason: (-totals[reason], reason),
    )
    ordered = [reason for reason in KNOWN_REASONS if reason in totals] + others
    if len(ordered) > MAX_CHART_REASONS:
        ordered = [*ordered[: MAX_CHART_REASONS - 1], OTHER]
    return ordered


def _days(report: Report) -> list[date]:
    """Every day from the first ending to the last, so that a quiet day shows as a gap."""
    seen = sorted(date.fromisoformat(day) for day, _ in report.ended_by_day)
    first, last = seen[0], seen[-1]
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]


def _per_day(report: Report, reasons: list[str]) -> dict[tuple[str, str], int]:
    """`(day, reason)` counts with the reasons past the chart's limit folded into "other"."""
    shown = set(reasons)
    counts: dict[tuple[str, str], int] = {}
    for (day, reason), count in report.ended_by_day.items():
        key = (day, reason if reason in shown else OTHER)
        counts[key] = counts.get(key, 0) + count
    return counts


def ended_per_day_chart(report: Report) -> str | None:
    """Sessions ended per day, stacked by reason, as an SVG document; `None` if none ended.

    Each bar is an SVG group whose id is `ended-<reason index>-<YYYY-MM-DD>`, the index
    being the reason's place in the legend.
    """
    if not report.ended_by_day:
        return None
    # pyplot keeps global state and is not safe across threads: a Figure of our own is.
    import matplotlib
    from matplotlib.artist import Artist
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    reasons = _chart_reasons(report)
    counts = _per_day(report, reasons)
    days = _days(report)
    positions = list(range(len(days)))
    # Every day a label would crowd the axis: about a dozen at most, evenly spaced.
    step = max(1, -(-len(days) // 12))
    with matplotlib.rc_context(
        # Text as glyph outlines (no font needed to view it, and no text to inject), never
        # read as mathtext; ids salted so that one report always draws the same file.
        {"svg.fonttype": "path", "svg.hashsalt": "idleguard", "text.parse_math": False}
    ):
        figure = Figure(figsize=(9, 3.4), layout="constrained")
        axes = figure.add_subplot()
        bottoms = [0] * len(days)
        handles: list[Artist] = []
        for index, reason in enumerate(reasons):
            heights = [counts.get((day.isoformat(), reason), 0) for day in days]
            bars = axes.bar(
                positions, heights, width=0.8, bottom=bottoms, color=PALETTE[index % len(PALETTE)]
            )
            for day, height, bar in zip(days, heights, bars, strict=True):
                if height:
                    bar.set_gid(f"ended-{index}-{day.isoformat()}")
            handles.append(bars.patches[0])  # the legend shows a reason by one of its bars
            bottoms = [bottom + height for bottom, height in zip(bottoms, heights, strict=True)]
        # Explicit labels: matplotlib would drop one starting with "_" from an automatic legend.
        figure.legend(
            handles,
            [_shown(reason)[:40] for reason in reasons],
            title="reason",
            loc="outside right upper",
            frameon=False,
        )
        axes.set_xticks(
            positions[::step], [day.isoformat() for day in days[::step]], rotation=30, ha="right"
        )
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_ylabel("sessions ended")
        axes.set_xlabel("day (UTC)")
        axes.spines[["top", "right"]].set_visible(False)
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def _css() -> str:
    return resources.files("idleguard.audit").joinpath("templates/report.css").read_text("utf-8")


def page_environment(package: str) -> jinja2.Environment:
    """The Jinja2 environment of a self-contained page: `package`'s templates, autoescaped.

    Undefined names fail loudly rather than render empty. Shared by every page idleguard
    writes (this report, `idleguard verify`'s evidence page).

    Args:
        package: The package whose `templates` folder holds the page.

    Returns:
        A `jinja2.Environment`.
    """
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader(package, "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def page_style() -> dict[str, Any]:
    """The pages' stylesheet (`css`) and its hash for their Content-Security-Policy (`style_hash`).

    The page's own style, allowed by its hash: the policy then refuses any other.
    """
    from markupsafe import Markup

    css = _css()
    return {
        "css": Markup(css),  # noqa: S704 - the package's own stylesheet, not user input
        "style_hash": "sha256-" + base64.b64encode(hashlib.sha256(css.encode()).digest()).decode(),
    }


def render_html(
    report: Report, out: TextIO, *, tenant: str | None = None, now: float | None = None
) -> None:
    """Write the report to `out` as one self-contained HTML page.

    Args:
        report: The report.
        out: Where the page goes.
        tenant: The one tenant the report was limited to, if it was (shown on the page).
        now: When the page is made (seconds since the epoch), for its "generated" line;
            default the current time.
    """
    environment = page_environment("idleguard.audit")
    environment.filters["shown"] = _shown
    environment.filters["idle_of"] = idle_of
    environment.filters["moment"] = _moment
    chart = ended_per_day_chart(report)
    reasons = _chart_reasons(report) if chart is not None else []
    counts = _per_day(report, reasons)
    # The chart's numbers as a table, for a reader who cannot see it: the days with endings.
    per_day = [
        (day.isoformat(), row)
        for day in (_days(report) if chart is not None else [])
        if any(row := [counts.get((day.isoformat(), reason), 0) for reason in reasons])
    ]
    generated = (
        datetime.now(timezone.utc) if now is None else datetime.fromtimestamp(now, timezone.utc)
    )
    page = environment.get_template("report.html.j2").render(
        report=as_json(report),
        tenant=tenant,
        generated=generated.isoformat(timespec="seconds"),
        **page_style(),
        chart=None
        if chart is None
        else "data:image/svg+xml;base64," + base64.b64encode(chart.encode()).decode(),
        reasons=reasons,
        per_day=per_day,
    )
    out.write(page)
