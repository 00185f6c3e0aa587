"""A real uvicorn server on loopback, running in a thread of the test process."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import uvicorn

from backend.api.app import Backend, create_app
from backend.jobs.service import JobService
from backend.settings import Settings
from desktop_app.client.api import ApiClient

STARTUP_SECONDS = 15


@dataclass
class LiveServer:
    """A started server and the parts behind it."""

    url: str
    settings: Settings
    backend: Backend

    @property
    def token(self) -> str | None:
        return self.settings.token

    @property
    def service(self) -> JobService:
        return self.backend.service

    def client(self, token: str | None = None, **kwargs: object) -> ApiClient:
        """Return an API client; `token` defaults to the server's own."""
        return ApiClient(self.url, token or self.token, **kwargs)  # type: ignore[arg-type]


@contextlib.contextmanager
def run_live_server(settings: Settings, backend: Backend) -> Iterator[LiveServer]:
    """Serve `create_app(settings, backend)` on 127.0.0.1 until the block ends."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, backend), log_config=None, lifespan="on")
    )
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="live-server", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + STARTUP_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("The test server did not start")
        time.sleep(0.01)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", settings, backend)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
