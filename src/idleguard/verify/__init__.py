"""`idleguard verify`: black-box evidence that a running deployment enforces its limits.

It signs in (a form, a command, a hook, or cookies given), then probes over HTTP, as any
client would, whatever the app is built with: an idle session is refused within the idle
limit and its tolerance (found by a search over waits with several sessions at once), an
active one at the absolute limit, a background poll or a keepalive extends nothing it must
not, a sign-out cannot be replayed, the cookie's attributes are right, a sign-in rotates the
session id; across several services, one session and one sign-out hold everywhere and the
limits agree. Each result names the controls it evidences and keeps its requests and answers,
redacted. Every wait goes through a [`Timeline`][idleguard.verify.Timeline].

Examples:
    ```python
    # fragment: needs a running deployment
    import httpx
    from idleguard.verify import Endpoint, Expectation, FormSignIn, RealTime, Target, run

    report = run(
        [Target("https://staging.example.com", check=Endpoint("GET", "/api/me"))],
        Expectation.build(preset="pci-dss", compression=60),
        FormSignIn("/login", [("qa@example.com", "...")]),
        RealTime(),
        httpx.Client(),
        wait="compressed",
    )
    ```
"""

from __future__ import annotations

from .bench import Endpoint, Target
from .exchange import Answer, Credential, Exchange
from .expectation import Expectation
from .recipes import CommandSignIn, FormSignIn, GivenCookies, HookSignIn, SignIn, SignInFailed
from .render import to_html, to_json_text, to_markdown
from .report import ProbeResult, Report, Verdict
from .runner import CROSS_SERVICE_PROBES, PROBES_PER_TARGET, run
from .timeline import ClockTime, RealTime, Scheduler, Timeline

__all__ = [
    "CROSS_SERVICE_PROBES",
    "PROBES_PER_TARGET",
    "Answer",
    "ClockTime",
    "CommandSignIn",
    "Credential",
    "Endpoint",
    "Exchange",
    "Expectation",
    "FormSignIn",
    "GivenCookies",
    "HookSignIn",
    "ProbeResult",
    "RealTime",
    "Report",
    "Scheduler",
    "SignIn",
    "SignInFailed",
    "Target",
    "Timeline",
    "Verdict",
    "run",
    "to_html",
    "to_json_text",
    "to_markdown",
]
