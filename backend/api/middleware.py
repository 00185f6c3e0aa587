"""ASGI middleware: Host header check and request body size limit."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger(__name__)


async def _send_error(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"code": code, "message": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class HostCheckMiddleware:
    """Reject requests whose Host header is not one of `allowed_hosts`.

    A web page can point its own domain name at 127.0.0.1 (DNS rebinding) to
    reach a local server, but its requests still carry that domain as Host.
    """

    def __init__(self, app: ASGIApp, allowed_hosts: Iterable[str]) -> None:
        self._app = app
        self._allowed = {host.lower() for host in allowed_hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            host = headers.get(b"host", b"").decode("latin-1").lower()
            if host not in self._allowed:
                logger.warning("Rejected request with Host %r", host)
                await _send_error(
                    send, 421, "invalid_host", f"Host {host!r} is not served here."
                )
                return
        await self._app(scope, receive, send)


class BodySizeLimitMiddleware:
    """Respond with 413 once a request body grows past `max_bytes`.

    Checks Content-Length up front and counts the bytes of a streamed body,
    so an oversized upload is cut off instead of being written to disk.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self._app = app
        self._max = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        message = (
            f"The upload is larger than the limit of {self._max} bytes "
            "(AUDIO_CONVERTER_MAX_UPLOAD_BYTES)."
        )
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self._max:
            await _send_error(send, 413, "request_too_large", message)
            return

        received = 0
        response_started = False
        rejected = False

        async def limited_receive() -> Message:
            nonlocal received, rejected
            event = await receive()
            if event["type"] != "http.request" or rejected:
                return event
            received += len(event.get("body", b""))
            if received <= self._max:
                return event
            rejected = True
            if not response_started:
                await _send_error(send, 413, "request_too_large", message)
            # The app receives a disconnect and stops reading the body.
            return {"type": "http.disconnect"}

        async def tracking_send(event: Message) -> None:
            nonlocal response_started
            if rejected:
                return  # The 413 response has been sent already.
            if event["type"] == "http.response.start":
                response_started = True
            await send(event)

        await self._app(scope, limited_receive, tracking_send)
