"""Flask, the reference WSGI app: the ``idleguard.integrations.flask.IdleGuard`` extension."""

from __future__ import annotations

from collections.abc import Iterator

from flask import Flask, Response, jsonify, request

import idleguard
from idleguard.integrations.flask import IdleGuard

from .common import CHUNK_SIZE, POLICY, Config, page, who


def wsgi() -> Flask:
    """The app, configured from the environment."""
    config = Config()
    app = Flask(__name__)
    # What a Flask app keeps in its configuration goes there; the clock is code.
    app.config.update(
        SECRET_KEY=config.secret,
        IDLEGUARD_STORE=config.store,
        IDLEGUARD_IDLE_TIMEOUT=POLICY.idle_timeout,
        IDLEGUARD_ABSOLUTE_TIMEOUT=POLICY.absolute_timeout,
        IDLEGUARD_TOUCH_INTERVAL=POLICY.touch_interval,
        IDLEGUARD_HTTPS_ONLY=False,
        IDLEGUARD_PASSIVE_PATHS=["/poll"],
    )
    IdleGuard(app, clock=config.clock, on_event=config.audit)

    @app.post("/login")
    def login() -> Response:
        user = request.args["user"]
        idleguard.begin(request, subject=user)
        return jsonify(user=user)

    @app.get("/me")
    @app.get("/poll")
    def me() -> Response:
        return jsonify(who(request))

    @app.post("/logout")
    def logout() -> Response:
        idleguard.end(request)
        return jsonify(user=None)

    @app.post("/upload")
    def upload() -> Response:
        token = request.args["token"]
        size = 0
        while chunk := request.stream.read(CHUNK_SIZE):
            size += len(chunk)
            config.note_upload(token, size)
        return jsonify(size=size, **who(request))

    @app.get("/download")
    def download() -> Response:
        chunks: Iterator[bytes] = config.download_chunks()
        return Response(chunks, mimetype="application/octet-stream")

    @app.get("/page")
    def html_page() -> str:
        return page(request)

    return app
