from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

TIMEOUT_SECONDS = 30


@pytest.fixture
def server(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "backend", "--port", "0",
         "--data-dir", str(tmp_path / "data"), "--exit-with-stdin"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "AUDIO_CONVERTER_TOKEN": "cli-token"},
    )  # fmt: skip
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=TIMEOUT_SECONDS)
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def _ready_port(process: subprocess.Popen[str]) -> int:
    assert process.stdout is not None
    event = json.loads(process.stdout.readline())
    assert event["event"] == "ready"
    assert event["host"] == "127.0.0.1"
    return int(event["port"])


def test_prints_port_when_ready(server: subprocess.Popen[str]) -> None:
    port = _ready_port(server)
    response = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=10)
    assert response.status_code == 200


def test_token_comes_from_environment(server: subprocess.Popen[str]) -> None:
    port = _ready_port(server)
    url = f"http://127.0.0.1:{port}/api/v1/formats"
    assert httpx.get(url, timeout=10).status_code == 401
    headers = {"Authorization": "Bearer cli-token"}
    assert httpx.get(url, headers=headers, timeout=10).status_code == 200


def test_exits_when_stdin_closes(server: subprocess.Popen[str]) -> None:
    _ready_port(server)
    assert server.stdin is not None
    server.stdin.close()
    assert server.wait(timeout=TIMEOUT_SECONDS) == 0


def test_busy_port_is_reported(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        completed = subprocess.run(
            [sys.executable, "-m", "backend", "--port", str(port),
             "--data-dir", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )  # fmt: skip
    assert completed.returncode == 2
    assert f"Cannot listen on 127.0.0.1:{port}" in completed.stderr


def test_second_server_on_same_data_dir_refused(
    server: subprocess.Popen[str], tmp_path: Path
) -> None:
    _ready_port(server)
    completed = subprocess.run(
        [sys.executable, "-m", "backend", "--port", "0",
         "--data-dir", str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )  # fmt: skip
    assert completed.returncode == 2
    assert "Another Audio Converter server is using" in completed.stderr


def test_data_folder_is_private(server: subprocess.Popen[str], tmp_path: Path) -> None:
    _ready_port(server)
    data = tmp_path / "data"
    assert data.stat().st_mode & 0o077 == 0
    for path in data.rglob("*"):
        if path.is_file():
            assert path.stat().st_mode & 0o077 == 0, path
