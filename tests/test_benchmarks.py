"""The benchmark suite still runs: every part once, with tiny counts (no timing is asserted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import run


@pytest.mark.slow
@pytest.mark.redis
@pytest.mark.postgresql
def test_the_whole_suite_runs_and_writes_its_table_and_plot(tmp_path: Path) -> None:
    assert run.main(["--tiny", "--output", str(tmp_path)]) == 0
    table = (tmp_path / "latest.md").read_text(encoding="utf-8")
    for variant in (
        "ASGI idleguard memory",
        "ASGI starsessions redis",
        "WSGI flask-session redis",
        "WSGI beaker memory",
        "bare EVALSHA (sync client)",
        "ASGI idleguard redis, local decisions (async)",
        "WSGI idleguard redis, local decisions (sync)",
    ):
        assert f"| {variant}" in table
    # Round trips come from the servers' own statistics.
    assert "| 1.00 (EVALSHA" in table
    assert "2.00 (GET, SET)" in table
    assert "## End to end over HTTP" in table
    assert "## A sign-out seen by another process" in table
    assert "## Targets" in table
    assert (tmp_path / "latest.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
