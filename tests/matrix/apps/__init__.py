"""One small app per framework, each guarded by idleguard the way that framework's users add it.

Every app serves the same routes, so one scenario client runs against all of them:

``POST /login?user=NAME``  signs in with ``idleguard.begin(request, subject=NAME)``
``GET /me``                ``{"user": ..., "pid": ...}`` from ``idleguard.current(request)``
``GET /poll``              the same, on a passive path (checked, never extending)
``POST /logout``           ``idleguard.end(request)``
``POST /upload?token=T``   reads the body in chunks, noting its progress for the test
``GET /download``          streams chunks slowly, one each time the test moves the clock
``GET /page``              HTML, for the browser-navigation case
``/ws``                    a WebSocket echo, where the framework has WebSockets

Each module's factories read their configuration from the environment
(:class:`tests.matrix.apps.common.Config`).
"""
