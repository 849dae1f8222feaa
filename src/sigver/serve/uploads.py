"""Request plumbing: the body-size guard and the folder of questioned images.

``BodyLimit`` refuses a request body larger than the limit before it is parsed: at once
when ``Content-Length`` says so, else as soon as the streamed bytes pass it.
``QuestionedImages`` keeps the preprocessed questioned images a response links to, as
files shared by the worker processes, for ``KEEP_S`` seconds.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from pathlib import Path
from typing import Any

KEEP_S = 3600.0
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{22}$")


class _TooLargeError(Exception):
    pass


class BodyLimit:
    """ASGI middleware: 413 for request bodies over ``max_bytes``."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await self._refuse(send)
            return
        seen = 0
        started = False

        async def counted_receive() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLargeError
            return message

        async def tracked_send(message: dict) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except _TooLargeError:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send: Any) -> None:
        body = json.dumps({"error": {"code": "request_too_large", "message":
                                     f"the request body is larger than {self.max_bytes} "
                                     "bytes"}}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class QuestionedImages:
    """PNG files named by random tokens, removed after ``KEEP_S`` seconds."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._saved = 0

    def save(self, png: bytes) -> str:
        token = secrets.token_urlsafe(16)
        tmp = self.folder / f".{token}.tmp"
        tmp.write_bytes(png)
        os.replace(tmp, self.folder / f"{token}.png")
        self._saved += 1
        if self._saved % 200 == 0:
            self.prune()
        return token

    def path(self, token: str) -> Path | None:
        if not _TOKEN.match(token):
            return None
        path = self.folder / f"{token}.png"
        return path if path.is_file() else None

    def prune(self, now: float | None = None) -> None:
        cutoff = (time.time() if now is None else now) - KEEP_S
        for path in self.folder.glob("*.png"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
            except FileNotFoundError:
                pass  # pruned by another worker
