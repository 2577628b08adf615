"""The app uvicorn serves in the end-to-end run: ``BENCH_VARIANT`` names an ASGI variant."""

from __future__ import annotations

import json
import os

from benchmarks import apps

_factory, _server, _peer = apps.asgi_variants(json.loads(os.environ.get("BENCH_URLS", "{}")))[
    os.environ.get("BENCH_VARIANT", "starlette bare")
]
app = _factory(json.loads(os.environ.get("BENCH_URLS", "{}")))
