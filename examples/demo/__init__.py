"""The demo: Acme's workspace, a small FastAPI app guarded by idleguard on the memory store.

Run it with ``make demo`` (http://127.0.0.1:8000), or by hand in a virtual
environment with the ``demo`` extra (``pip install -e ".[demo]"``)::

    IDLEGUARD_DEV=1 uvicorn examples.demo:app --port 8000

The sign-in page lists two accounts and their passwords: Ada, the
organisation's admin, and Max, a member. Ada sets the organisation's
inactivity timeout and session expiration under Organisation > Session
security; each user may choose a shorter timeout under My session; the audit
log shows every change with who made it. ``IDLEGUARD_IDLE_TIMEOUT``,
``IDLEGUARD_ABSOLUTE_TIMEOUT``, ``IDLEGUARD_WARN_BEFORE`` (seconds) set the
policy the organisation starts with, ``IDLEGUARD_STORE`` (a store URL) the
store. ``IDLEGUARD_DEV=1`` is the explicit plain-HTTP development setting;
without it cookies are ``Secure``.
"""

from __future__ import annotations

from .app import create_app

__all__ = ["app", "create_app"]

app = create_app()
