"""Bundled backend launcher: a real child process on 127.0.0.1."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from desktop_app.backend_process import BundledBackend
from desktop_app.client.api import ApiClient
from desktop_app.client.errors import ApiError, BackendStartError

REPO_ROOT = Path(__file__).resolve().parents[3]
EXIT_WAIT_SECONDS = 10.0
STARTUP_WAIT_SECONDS = 60.0
LISTEN_STATE = "0A"

# Starts the backend, prints the child's pid, then waits to be killed.
PARENT_SCRIPT = """
import sys, time
from pathlib import Path
from typing import IO
from desktop_app.backend_process import BundledBackend

backend = BundledBackend(Path(sys.argv[1]), workers=1)
backend.start()
print(backend.pid, flush=True)
time.sleep(120)
"""


def is_running(pid: int) -> bool:
    """Return whether `pid` is alive, counting an unreaped zombie as ended."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in ("Z", "X")


def wait_for_exit(pid: int, timeout: float = EXIT_WAIT_SECONDS) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_running(pid):
            return True
        time.sleep(0.05)
    return not is_running(pid)


def read_line(stream: IO[str], timeout: float) -> str:
    """Read one line, or return "" when none arrives within `timeout` seconds."""
    ready, _, _ = select.select([stream], [], [], timeout)
    return stream.readline() if ready else ""


def kill_if_running(pid: int) -> None:
    if is_running(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def listeners(port: int) -> list[tuple[str, str]]:
    """Return (table, local address) of every TCP socket listening on `port`."""
    found = []
    for table in ("tcp", "tcp6"):
        lines = Path(f"/proc/net/{table}").read_text().splitlines()[1:]
        for line in lines:
            fields = line.split()
            address, port_hex = fields[1].split(":")
            if int(port_hex, 16) == port and fields[3] == LISTEN_STATE:
                found.append((table, address))
    return found


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[BundledBackend]:
    with BundledBackend(tmp_path / "data", workers=1) as started:
        yield started


def test_backend_passes_health_check(backend: BundledBackend) -> None:
    assert backend.url is not None
    with ApiClient(backend.url, backend.token) as client:
        assert client.health()["status"] == "ok"


def test_backend_requires_its_token(backend: BundledBackend) -> None:
    assert backend.url is not None

    with ApiClient(backend.url) as client, pytest.raises(ApiError) as caught:
        client.formats()
    with ApiClient(backend.url, backend.token) as client:
        formats = client.formats()

    assert caught.value.status_code == 401
    assert caught.value.code == "unauthorized"
    assert formats


def test_backend_listens_on_loopback_only(backend: BundledBackend) -> None:
    assert backend.url is not None
    assert backend.url.startswith("http://127.0.0.1:")
    port = int(backend.url.rsplit(":", 1)[1])

    # /proc/net/tcp writes 127.0.0.1 as little-endian hex.
    assert listeners(port) == [("tcp", "0100007F")]


def test_token_not_on_command_line(backend: BundledBackend) -> None:
    assert backend.pid is not None

    command_line = Path(f"/proc/{backend.pid}/cmdline").read_bytes()

    assert backend.token.encode() not in command_line


def test_backend_has_own_session(backend: BundledBackend) -> None:
    assert backend.pid is not None

    # Ctrl-C in a terminal goes to this process group, never to the child's.
    assert os.getpgid(backend.pid) != os.getpgid(0)
    assert os.getsid(backend.pid) == backend.pid


def test_backend_writes_log_in_data_dir(backend: BundledBackend) -> None:
    assert backend.log_path.parent == backend.data_dir
    assert backend.log_path.is_file()


def test_stop_ends_child(tmp_path: Path) -> None:
    backend = BundledBackend(tmp_path / "data", workers=1)
    backend.start()
    pid = backend.pid
    assert pid is not None
    try:
        assert is_running(pid)

        backend.stop()

        assert not is_running(pid)
        assert backend.pid is None
    finally:
        kill_if_running(pid)


def test_parent_kill_leaves_no_orphan(tmp_path: Path) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT_SCRIPT, str(tmp_path / "data")],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    child_pid: int | None = None
    try:
        assert parent.stdout is not None
        line = read_line(parent.stdout, STARTUP_WAIT_SECONDS)
        assert line.strip().isdigit(), f"parent printed {line!r}, not a pid"
        child_pid = int(line)
        assert is_running(child_pid)

        parent.kill()
        parent.wait(timeout=EXIT_WAIT_SECONDS)

        assert wait_for_exit(child_pid), f"backend {child_pid} outlived its parent"
    finally:
        parent.kill()
        parent.wait(timeout=EXIT_WAIT_SECONDS)
        if parent.stdout is not None:
            parent.stdout.close()
        if child_pid is not None:
            kill_if_running(child_pid)


def test_failed_start_raises_start_error(tmp_path: Path) -> None:
    # The child rejects this setting and exits before it prints its port.
    backend = BundledBackend(
        tmp_path / "data", extra_env={"AUDIO_CONVERTER_WORKERS": "0"}
    )

    with pytest.raises(BackendStartError) as caught:
        backend.start()

    assert str(backend.log_path) in str(caught.value)
    assert backend.pid is None


def test_busy_shared_folder_falls_back(tmp_path: Path) -> None:
    with BundledBackend(tmp_path) as first, BundledBackend(tmp_path) as second:
        assert first.url != second.url
        private = [p for p in tmp_path.iterdir() if p.name.startswith("backend-")]
        assert len(private) == 1
    assert [p for p in tmp_path.iterdir() if p.name.startswith("backend-")] == []
