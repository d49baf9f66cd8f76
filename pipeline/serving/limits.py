"""A request body size limit for the HTTP app (an ASGI middleware)."""

from __future__ import annotations

import json
from typing import Any

Scope = dict[str, Any]
Message = dict[str, Any]


class BodySizeLimit:
    """Answer 413 to a request whose body is larger than ``max_bytes``.

    The ``Content-Length`` header is checked before the app sees the request; a body
    streamed without one (chunked) is read here first, and refused as soon as it passes the
    limit, so nothing larger is ever buffered.

    Parameters
    ----------
    app : ASGI application
    max_bytes : int
        The largest accepted body, in bytes.
    """

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def _reject(self, send: Any, status: int = 413, detail: str | None = None) -> None:
        detail = detail or (f"request body larger than {self.max_bytes} bytes; expected at "
                            "most that (brainrecon serve --max-upload-mb)")
        body = json.dumps({"detail": detail})
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body.encode()})

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and not length.isdigit():
            shown = length.decode("latin-1")[:20]
            await self._reject(send, 400, f"Content-Length {shown!r}: expected a non-negative "
                                          "integer")
            return
        if length is not None and int(length) > self.max_bytes:
            await self._reject(send)
            return
        if length is None:  # streamed (chunked): read it here, up to the limit
            messages = await self._buffered(receive)
            if messages is None:
                await self._reject(send)
                return
            replay = iter(messages)

            async def receive_replayed() -> Message:
                return next(replay, None) or await receive()

            await self.app(scope, receive_replayed, send)
            return
        await self.app(scope, receive, send)

    async def _buffered(self, receive: Any) -> list[Message] | None:
        """The body messages of a request, or None once they pass ``max_bytes``."""
        messages, received = [], 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return messages
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                return None
            if not message.get("more_body", False):
                return messages
