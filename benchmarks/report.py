"""The results as Markdown (with the machine and versions) and as a PNG plot."""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path

from benchmarks.endtoend import Throughput
from benchmarks.inprocess import Row
from benchmarks.revocation import Revocation
from benchmarks.scale import ScalePoint

__all__ = ["machine", "markdown", "plot"]

PACKAGES = (
    "idleguard", "starlette", "flask", "redis", "hiredis", "sqlalchemy", "psycopg",
    "starsessions", "flask-session", "beaker", "uvicorn",
)  # fmt: skip


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import os

    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return (
        f"Python {platform.python_version()} on {platform.system()} {platform.machine()}, "
        f"{os.cpu_count()} cores ({cpu}).\n\n" + ", ".join(versions) + "."
    )


def markdown(
    rows: list[Row],
    throughput: list[Throughput],
    scale: list[ScalePoint],
    redis_key_bytes: int | None,
    targets: list[tuple[str, str, bool]],
    settings: str,
    revocation: Revocation | None = None,
) -> str:
    lines = ["# Benchmark results", "", machine(), "", settings, ""]
    lines += [
        "## In-process, per request",
        "",
        "Added µs: the variant's median minus the bare app's (same framework, same clock: "
        "CPU time for variants that only compute, wall time for those that wait on a server). "
        "Round trips: counted by the server itself.",
        "",
        "| variant | µs / request | spread (IQR) | added µs | ratio to bare | round trips |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        name = f"{row.variant}{' (peer)' if row.peer else ''}"
        lines.append(
            f"| {name} | {row.median_us:.1f} | {row.spread_us:.1f} | {row.added_us:+.1f} "
            f"| {row.ratio:.2f}x | {row.round_trips} |"
        )
    if throughput:
        bare = next((t for t in throughput if t.variant == "starlette bare"), None)
        lines += [
            "",
            "## End to end over HTTP (uvicorn, one worker, 127.0.0.1)",
            "",
            "| variant | requests / s | of bare | p50 ms | p99 ms | requests | errors |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for item in throughput:
            share = f"{item.requests_per_second / bare.requests_per_second:.0%}" if bare else ""
            lines.append(
                f"| {item.variant} | {item.requests_per_second:,.0f} | {share} | {item.p50_ms:.2f} "
                f"| {item.p99_ms:.2f} | {item.requests:,} | {item.errors} |"
            )
    if scale:
        lines += [
            "",
            "## By live sessions",
            "",
            "| store | live sessions | µs / request | bytes / session |",
            "|---|---:|---:|---:|",
        ]
        for point in scale:
            lines.append(
                f"| {point.store} | {point.sessions:,} | {point.us_per_request:.1f} "
                f"| {point.bytes_per_session:.0f} |"
            )
        if redis_key_bytes is not None:
            lines += ["", f"`MEMORY USAGE` of one real session's key: {redis_key_bytes} bytes."]
    if revocation is not None:
        lines += [
            "",
            "## A sign-out seen by another process (local decisions, two processes)",
            "",
            "From the store's acknowledgement of a sign-out in one process to the first refusal "
            "in another that was deciding the session on its own copy, in a tight loop.",
            "",
            "| trials | p50 ms | p99 ms | max ms | checks decided without a round trip |",
            "|---:|---:|---:|---:|---:|",
            f"| {revocation.trials:,} | {revocation.p50_ms:.2f} | {revocation.p99_ms:.2f} "
            f"| {revocation.max_ms:.2f} | {revocation.decided_locally:.1%} |",
        ]
    lines += ["", "## Targets", "", "| target | measured | met |", "|---|---|---|"]
    for target, measured, met in targets:
        lines.append(f"| {target} | {measured} | {'yes' if met else '**no**'} |")
    return "\n".join(lines) + "\n"


def plot(rows: list[Row], path: Path) -> None:
    """A horizontal bar chart of added µs per request, one panel per framework."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [g for g in ("ASGI", "WSGI") if any(r.group == g for r in rows)]
    figure, axes = plt.subplots(len(groups), 1, figsize=(9, 1.2 + 0.45 * len(rows)), squeeze=False)
    for axis, group in zip(axes[:, 0], groups, strict=True):
        chosen = [r for r in rows if r.group == group and r.added_us > 0]
        chosen.sort(key=lambda r: r.added_us)
        names = [r.variant.removeprefix(group + " ") for r in chosen]
        colours = [
            "#9e9e9e" if r.peer else "#ffb300" if _is_floor(r.variant) else "#1565c0"
            for r in chosen
        ]
        bars = axis.barh(names, [r.added_us for r in chosen], color=colours)
        axis.set_xscale("log")
        axis.set_title(f"{group}: µs added per request over the bare app (log scale)")
        for bar, row in zip(bars, chosen, strict=True):
            axis.text(
                bar.get_width() * 1.05,
                bar.get_y() + bar.get_height() / 2,
                f"{row.added_us:.1f}",
                va="center",
                fontsize=8,
            )
        axis.set_xlim(right=max((r.added_us for r in chosen), default=1) * 3)
    figure.text(0.01, 0.005, "blue: idleguard, grey: peers, amber: floors", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _is_floor(variant: str) -> bool:
    return "pass-through" in variant or "one EVALSHA" in variant
