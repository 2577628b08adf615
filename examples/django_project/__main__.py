"""The demo in Django: ``python -m examples.django_project`` serves it on http://127.0.0.1:8002.

Run it in a virtual environment with the ``examples`` extra
(``pip install -e ".[examples]"``; the ``django`` extra alone is enough)::

    IDLEGUARD_DEV=1 python -m examples.django_project

It creates its SQLite database first (``IDLEGUARD_DJANGO_DB``, default in the
temporary directory). Sign in with any user name and the password ``demo``.
``IDLEGUARD_IDLE_TIMEOUT``, ``IDLEGUARD_ABSOLUTE_TIMEOUT``,
``IDLEGUARD_WARN_BEFORE`` (seconds) and ``IDLEGUARD_STORE`` (a store URL)
change the policy and the store; ``IDLEGUARD_DEV=1`` allows plain HTTP.
"""

from __future__ import annotations

import os
import sys

from django.core.management import call_command, execute_from_command_line

from .wsgi import SETTINGS_MODULE, create_app


def main(argv: list[str]) -> None:
    """Migrate the database, then run Django's development server."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS_MODULE)
    create_app()
    call_command("migrate", verbosity=0, interactive=False)
    address = argv[1] if len(argv) > 1 else "127.0.0.1:8002"
    execute_from_command_line([argv[0], "runserver", "--noreload", address])


if __name__ == "__main__":
    main(sys.argv)
