"""The report as an assessor reads it: Markdown for a ticket or a repository, HTML to keep.

Both forms show, for each probe, the verdict, what was measured, the controls it evidences,
and the requests and answers themselves (already redacted when they were kept). Every value
that came from the deployment (status lines, headers, URLs) goes through
[`printable`][idleguard.audit.printable]; in Markdown a `|` or a backtick is escaped too,
so a header cannot break a table; the HTML page is autoescaped by Jinja2 and, like the
audit report, runs no script and loads nothing (`idleguard[verify]` brings Jinja2).
"""

from __future__ import annotations

import json
from typing import Any

from ..audit.html_report import page_environment, page_style
from ..audit.redaction import printable
from .report import Report, iso

__all__ = ["SHOWN_EXCHANGES", "to_html", "to_json_text", "to_markdown"]

#: Exchanges shown per probe in Markdown and HTML (the first and the last); JSON has all.
SHOWN_EXCHANGES = (4, 8)
_VERDICT_WORDS = {
    "passed": "PASSED",
    "failed": "FAILED",
    "error": "INCONCLUSIVE",
    "skipped": "skipped",
}


def to_json_text(report: Report) -> str:
    """The JSON report, indented."""
    return json.dumps(report.to_json(), indent=2) + "\n"


def _cell(value: Any) -> str:
    text = printable("" if value is None else str(value))
    for special in ("\\", "|", "`", "*", "_", "[", "]"):
        text = text.replace(special, "\\" + special)
    return text.replace("<", "&lt;")


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def shown_exchanges(exchanges: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """The exchanges a page shows, and how many were left out.

    Of the requests that only made sessions ready (sign-ins, the checks right after them),
    the first of each kind stands for the rest; of the probe's own, the first and the last
    are shown.
    """
    setup: dict[str, dict[str, Any]] = {}
    for exchange in exchanges:
        if exchange["setup"]:
            setup.setdefault(exchange["note"], exchange)
    own = [exchange for exchange in exchanges if not exchange["setup"]]
    first, last = SHOWN_EXCHANGES
    kept = own if len(own) <= first + last else [*own[:first], *own[-last:]]
    shown = [*setup.values(), *kept]
    return sorted(shown, key=lambda exchange: exchange["at"]), len(exchanges) - len(shown)


def _headers(exchange: dict[str, Any]) -> str:
    return "; ".join(
        f"{name}: {value}"
        for name, values in exchange["response_headers"].items()
        for value in values
    )


def to_markdown(report: Report) -> str:
    """The report as Markdown."""
    data = report.to_json()
    expected = data["expected"]
    lines = [
        "# Session enforcement evidence",
        "",
        f"- **Result:** {'PASSED' if data['passed'] else 'FAILED'} "
        + ", ".join(f"{count} {verdict}" for verdict, count in data["counts"].items() if count),
        f"- **Deployments:** {', '.join(_cell(target) for target in data['targets'])}",
        f"- **Expected:** idle {_cell(_limit(expected['idle_timeout']))}, absolute "
        f"{_cell(_limit(expected['absolute_timeout']))}, tolerance {expected['tolerance']:.2f} s "
        f"({_cell(expected['source'])})",
        f"- **Time:** {_cell(data['wait'])}"
        + (
            f", every limit divided by {expected['compression']:g}"
            if expected["compression"] != 1
            else ""
        ),
        f"- **Run:** {data['started_at']} to {data['finished_at']} by {_cell(data['tool'])}",
        "",
        "## Controls",
        "",
        "| Control | What it asks | Status | Probes |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {row['control']} | {row['meaning']} | {row['status']} | {', '.join(row['probes'])} |"
        for row in data["controls"]
    ]
    lines += [
        "",
        "## Probes",
        "",
        "| Probe | Deployment | Verdict | Summary |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {result['probe']} | {_cell(result['target'])} | {_VERDICT_WORDS[result['verdict']]} | {_cell(result['summary'])} |"
        for result in data["results"]
    ]
    for result in data["results"]:
        lines += ["", f"### {result['probe']}: {_VERDICT_WORDS[result['verdict']]}", ""]
        lines += [
            f"{result['title']}, on {_cell(result['target'])}.",
            "",
            _cell(result["summary"]),
            "",
        ]
        lines += [f"- **Finding:** {_cell(finding)}" for finding in result["findings"]]
        lines += [f"- **Advice:** {_cell(advice)}" for advice in result["advice"]]
        lines += (
            [
                "- **Measured:** "
                + ", ".join(
                    f"{_cell(name)} {_cell(_number(value))}"
                    for name, value in result["measured"].items()
                    if value is not None
                )
            ]
            if result["measured"]
            else []
        )
        lines += [
            f"- **Controls:** {', '.join(result['controls'])}",
            f"- **From** {result['started_at']} **to** {result['finished_at']}",
        ]
        exchanges, left_out = shown_exchanges(result["exchanges"])
        if exchanges:
            lines += [
                "",
                "| Sent (UTC) | Request | Answer | Headers | Why |",
                "|---|---|---|---|---|",
            ]
            for exchange in exchanges:
                answer = f"{exchange['status'] or _cell(exchange['error'])} ({exchange['answer']})"
                lines.append(
                    f"| {exchange['at']} | {_cell(exchange['method'])} {_cell(exchange['url'])} | {answer} "
                    f"| {_cell(_headers(exchange))} | {_cell(exchange['note'])} |"
                )
            if left_out:
                lines += ["", f"{left_out} more exchange(s) are in the JSON report."]
    return "\n".join(lines) + "\n"


def _limit(value: float | None) -> str:
    return "off" if value is None else f"{value:g} s"


def to_html(report: Report) -> str:
    """The report as one self-contained HTML page (needs Jinja2: `idleguard[verify]`)."""
    environment = page_environment("idleguard.verify")
    environment.filters["shown"] = lambda value: printable("" if value is None else str(value))
    environment.filters["number"] = _number
    environment.filters["limit"] = _limit
    environment.globals["headers_of"] = _headers
    environment.globals["shown_exchanges"] = shown_exchanges
    return environment.get_template("evidence.html.j2").render(
        report=report.to_json(),
        verdict_words=_VERDICT_WORDS,
        generated=iso(report.finished_at),
        **page_style(),
    )
