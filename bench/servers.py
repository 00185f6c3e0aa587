"""Backends for the benchmarks: the bundled child process, or one in-process.

Every server binds 127.0.0.1 and keeps its data in a folder the caller owns.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import redis
import uvicorn

from backend.api.app import Backend, build_backend, create_app
from backend.settings import Settings
from desktop_app.backend_process import BundledBackend

STARTUP_SECONDS = 30.0


@dataclass(frozen=True)
class RunningBackend:
    """A started backend: where it listens, its token and its process id."""

    url: str
    token: str
    pid: int


@contextlib.contextmanager
def bundled_backend(
    data_dir: Path,
    *,
    workers: int | None = None,
    extra_env: dict[str, str] | None = None,
) -> Iterator[RunningBackend]:
    """Run the app's bundled backend child with its data under `data_dir`."""
    backend = BundledBackend(
        data_dir, ephemeral=True, workers=workers, extra_env=extra_env
    )
    url = backend.start()
    try:
        assert backend.pid is not None
        yield RunningBackend(url, backend.token, backend.pid)
    finally:
        backend.stop()


@dataclass
class InProcessServer:
    """A uvicorn server in a thread of this process, with its parts exposed."""

    url: str
    token: str
    backend: Backend


@contextlib.contextmanager
def in_process_server(data_dir: Path) -> Iterator[InProcessServer]:
    """Serve the embedded-store backend from a thread of this process."""
    token = secrets.token_urlsafe(16)
    settings = Settings(data_dir=data_dir, token=token)
    backend = build_backend(settings)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, backend), log_config=None, log_level="warning"
        )
    )
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="bench-server"
    )
    thread.start()
    deadline = time.monotonic() + STARTUP_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("The in-process benchmark server did not start.")
        time.sleep(0.01)
    try:
        yield InProcessServer(f"http://127.0.0.1:{port}", token, backend)
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_SECONDS)
        sock.close()


@contextlib.contextmanager
def redis_server(folder: Path) -> Iterator[str | None]:
    """Run a private redis-server on loopback; yield its URL, or None if absent."""
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
         "--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        client = redis.Redis(port=port, socket_connect_timeout=1)
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"redis-server did not start on port {port}."
                    ) from None
                time.sleep(0.05)
        client.close()
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.kill()
        process.wait(timeout=STARTUP_SECONDS)


def cli_command() -> list[str]:
    """Return the command that starts `audio-converter` from this environment."""
    script = Path(sys.executable).with_name("audio-converter")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-m", "desktop_app"]


def isolated_env(home: Path) -> dict[str, str]:
    """Return an environment whose user data and settings folders are in `home`.

    A CLI that starts its own backend then writes its log and temporary data
    there instead of the user's real data folder, and ignores the user's
    saved settings (such as the number of files converted at once).
    """
    return {
        **os.environ,
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
    }
