"""``idleguard audit --format html``: one page an assessor can keep, read back with a parser."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import io
import re
import xml.etree.ElementTree as ElementTree
from collections import Counter
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest

from idleguard.audit import html_report
from idleguard.audit.cli import main
from idleguard.audit.html_report import MAX_CHART_REASONS, OTHER, render_html
from idleguard.audit.report import build_report
from idleguard.events import Event, EventType

JULY = datetime(2026, 7, 1, tzinfo=timezone.utc).timestamp()
DAY = 86400.0
SVG = "{http://www.w3.org/2000/svg}"
HOSTILE_TENANT = "<script>alert('tenant')</script>\n\x1b[2J"
HOSTILE_ACTOR = '"><img src=x onerror=alert(1)>'


class Page(HTMLParser):
    """What a reader of the page sees: its tables by id, its images, its style and policy."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[list[str]]] = {}
        self.images: list[dict[str, str | None]] = []
        self.tags: Counter[str] = Counter()
        self.attributes: list[tuple[str, str | None]] = []
        self.meta: dict[str, str | None] = {}
        self.styles: list[str] = []
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._in_style = False
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        self.attributes.extend(attrs)
        found = dict(attrs)
        if tag == "table":
            self._table = found.get("id") or f"table-{len(self.tables)}"
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "img":
            self.images.append(found)
        elif tag == "meta" and found.get("http-equiv"):
            self.meta[str(found["http-equiv"]).lower()] = found.get("content")
        elif tag == "style":
            self._in_style = True

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell))
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None
        elif tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._in_style:
            self.styles.append(data)


def ending(kind: EventType, at: float, tenant: str | None, reason: str | None = None) -> Event:
    return Event(
        kind,
        at,
        tenant=tenant,
        reason=reason,
        policy={"idle_timeout": 900.0, "absolute_timeout": 3600.0},
    )


def quarter_log(path: Path) -> list[Event]:
    events = [
        ending(EventType.SESSION_EXPIRED_INACTIVITY, JULY + 3600, "acme", "idle"),
        ending(EventType.SESSION_EXPIRED_INACTIVITY, JULY + 7200, "acme", "idle"),
        ending(EventType.SESSION_ENDED, JULY + 7300, HOSTILE_TENANT, "signed_out"),
        ending(EventType.SESSION_REVOKED, JULY + 2 * DAY, "acme", "revoked"),
        ending(EventType.SESSION_EXPIRED_ABSOLUTE, JULY + 5 * DAY, None, "absolute"),
        ending(EventType.SESSION_ENDED, JULY + 5 * DAY + 60, "acme", "$\\frac{1}{0}$"),
        Event(
            EventType.INACTIVITY_TIMEOUT_UPDATED,
            JULY + DAY,
            tenant="acme",
            metadata={"actor": HOSTILE_ACTOR, "scope": "tenant", "old": 900, "new": 600},
        ),
        ending(EventType.SESSION_ENDED, JULY - DAY, "acme", "signed_out"),  # before the quarter
    ]
    path.write_text("".join(event.to_json() + "\n" for event in events))
    return events


def rows(page: Page, table: str) -> list[list[str]]:
    return page.tables[table][1:]  # past the header


def test_the_page_holds_the_reports_tables_and_its_chart(tmp_path: Path) -> None:
    log, out = tmp_path / "events.jsonl", tmp_path / "q3.html"
    quarter_log(log)
    assert main(["audit", str(log), "--quarter", "2026Q3", "--format", "html", "-o", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    page = Page(text)

    assert sorted(rows(page, "ended-by-reason")) == [
        ["$\\\\frac{1}{0}$", "1"],  # printable() doubles a backslash, as the text form does
        ["absolute", "1"],
        ["idle", "2"],
        ["revoked", "1"],
        ["signed_out", "1"],
    ]
    assert rows(page, "ended-per-day") == [
        ["2026-07-01", "2", "0", "1", "0", "0"],
        ["2026-07-03", "0", "0", "0", "1", "0"],
        ["2026-07-06", "0", "1", "0", "0", "1"],
    ]
    assert page.tables["ended-per-day"][0] == [
        "Day (UTC)",
        "idle",
        "absolute",
        "signed_out",
        "revoked",
        "$\\\\frac{1}{0}$",
    ]
    (change,) = rows(page, "changes")
    assert change == ["2026-07-02 00:00:00", "acme", "tenant", "", HOSTILE_ACTOR, "900", "600"]
    policies = {row[0]: row for row in rows(page, "policies")}
    # acme's later events were written under 900 s again: that is what is in force.
    assert policies["acme"][1:] == ["900", "3600", "2026-07-03 00:00:00", "-"]
    assert policies["(none)"][1:3] == ["900", "3600"]

    # Hostile text is text: escaped in the markup, control characters shown as escapes.
    shown_tenant = "<script>alert('tenant')</script>\\n\\x1b[2J"
    assert [shown_tenant, "signed_out", "1"] in rows(page, "ended-by-tenant")
    assert page.tags["script"] == 0
    assert "<script>alert" not in text
    assert "<img src=x" not in text
    assert "\x1b" not in text

    # The chart: an SVG image in a data: URI, one bar group per (reason, day) with endings.
    (image,) = page.images
    source = str(image["src"])
    assert source.startswith("data:image/svg+xml;base64,")
    # Our own renderer's output: no entities to expand, and defusedxml is not a dependency.
    svg = ElementTree.fromstring(base64.b64decode(source.split(",", 1)[1]))  # noqa: S314
    assert svg.tag == f"{SVG}svg"
    bars = sorted(
        str(group.get("id"))
        for group in svg.iter(f"{SVG}g")
        if str(group.get("id", "")).startswith("ended-")
    )
    assert bars == [
        "ended-0-2026-07-01",
        "ended-1-2026-07-06",
        "ended-2-2026-07-01",
        "ended-3-2026-07-03",
        "ended-4-2026-07-06",
    ]
    assert "sessions ended per day" in str(image["alt"]).lower()


def test_the_page_stands_alone(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    quarter_log(log)
    out = tmp_path / "page.html"
    assert main(["audit", str(log), "--format", "html", "-o", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    page = Page(text)
    # Nothing to fetch: no script, no stylesheet link, every URL in it a data: URI.
    assert page.tags["script"] == page.tags["link"] == page.tags["iframe"] == 0
    urls = [value for name, value in page.attributes if name in ("src", "href", "srcset")]
    assert urls
    assert all(str(url).startswith("data:") for url in urls)
    assert not re.search(r"url\(|@import", "".join(page.styles))
    # And the page's own policy forbids anything else, allowing its style by hash.
    policy = str(page.meta["content-security-policy"])
    assert "default-src 'none'" in policy
    assert "img-src data:" in policy
    (style,) = page.styles
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in policy


def test_one_report_is_always_the_same_page(tmp_path: Path) -> None:
    events = quarter_log(tmp_path / "events.jsonl")
    pages = []
    for _ in range(2):
        report = build_report(events)
        out = tmp_path / "page.html"
        with out.open("w", encoding="utf-8") as handle:
            render_html(report, handle, now=JULY + 100 * DAY)
        pages.append(out.read_bytes())
    assert pages[0] == pages[1]


def test_made_up_reasons_fold_into_other_in_the_chart() -> None:
    events = [
        ending(EventType.SESSION_ENDED, JULY + index * 60, "acme", f"reason-{index:02d}")
        for index in range(20)
    ]
    report = build_report(events)
    svg = html_report.ended_per_day_chart(report)
    assert svg is not None
    indexes = {int(match) for match in re.findall(r'id="ended-(\d+)-2026-07-01"', svg)}
    assert indexes == set(range(MAX_CHART_REASONS))
    buffer = io.StringIO()
    render_html(report, buffer)
    header = Page(buffer.getvalue()).tables["ended-per-day"][0]
    assert header[-1] == OTHER
    assert len(header) == 1 + MAX_CHART_REASONS
    assert Page(buffer.getvalue()).tables["ended-per-day"][1][1:] == ["1"] * 7 + ["13"]


def test_a_quiet_period_says_so_without_a_chart(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    log.write_text("")
    out = tmp_path / "page.html"
    assert main(["audit", str(log), "--format", "html", "-o", str(out)]) == 0
    page = Page(out.read_text(encoding="utf-8"))
    assert page.images == []
    assert "ended-per-day" not in page.tables
    assert "No session ended in the period." in out.read_text(encoding="utf-8")


def test_a_missing_library_is_named_with_its_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "events.jsonl"
    log.write_text("")
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *rest: None if name == "matplotlib" else real(name, *rest),
    )
    assert main(["audit", str(log), "--format", "html"]) == 2
    assert capsys.readouterr().err.strip() == (
        "idleguard audit: --format html needs matplotlib, which is not installed: "
        'pip install "idleguard[report]"'
    )
