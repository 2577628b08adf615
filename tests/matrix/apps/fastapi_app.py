"""FastAPI: ``app.add_middleware(IdleGuard, ...)``, as the README shows."""

from __future__ import annotations

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse, StreamingResponse

import idleguard
from idleguard import IdleGuard

from .common import Config, page, who


def asgi() -> FastAPI:
    """The app, configured from the environment."""
    config = Config()
    app = FastAPI()
    # mypy cannot match IdleGuard's constructor to Starlette's middleware-factory protocol
    # (examples/demo/app.py says the same).
    app.add_middleware(IdleGuard, **config.asgi_options())  # type: ignore[arg-type]

    @app.post("/login")
    async def login(request: Request, user: str) -> dict[str, str]:
        idleguard.begin(request, subject=user)
        return {"user": user}

    @app.get("/me")
    @app.get("/poll")
    async def me(request: Request) -> dict[str, object]:
        return who(request)

    @app.post("/logout")
    async def logout(request: Request) -> dict[str, None]:
        idleguard.end(request)
        return {"user": None}

    @app.post("/upload")
    async def upload(request: Request, token: str) -> dict[str, object]:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            config.note_upload(token, size)
        return {"size": size, **who(request)}

    @app.get("/download")
    async def download() -> StreamingResponse:
        return StreamingResponse(config.adownload_chunks(), media_type="application/octet-stream")

    @app.get("/page", response_class=HTMLResponse)
    async def html_page(request: Request) -> str:
        return page(request)

    @app.websocket("/ws")
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            while True:
                await websocket.send_text(await websocket.receive_text())
        except WebSocketDisconnect:
            pass

    return app
