"""The short form of ``make soak``: the same code, a few seconds, fewer users."""

from __future__ import annotations

import pytest

from .soak import soak

pytestmark = pytest.mark.redis


async def test_a_short_soak_has_no_error_no_loss_and_flat_memory(redis_url: str) -> None:
    report = await soak(redis_url, seconds=4, users=24, idle=1.0, absolute=3.0)
    assert report.problems == [], "\n".join(report.lines())
    assert report.errors == 0
    assert report.lost_events == 0
    # Every kind of session came and went: sign-outs, idle and absolute expiries, sweeps.
    assert report.signed_out > 0
    assert report.expiries > report.signed_out
    assert report.sessions == report.expiries + report.signed_out
