"""Upload, duration and time limits, and the Host header check."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from backend.conversion.converter import Converter
from backend.errors import ConversionFailed, InvalidInput
from backend.jobs.model import ConversionOptions
from desktop_app.client.errors import ApiError
from desktop_app.client.models import ConversionOptions as ClientOptions
from tests.helpers.audio import FFMPEG
from tests.helpers.plugin import TEST_TOKEN, ServerFactory, ToneFactory

AUTH = {"Authorization": f"Bearer {TEST_TOKEN}"}


@pytest.fixture
def store_set() -> str:
    return "embedded"


def test_upload_over_limit_answers_413(
    server_factory: ServerFactory, tone: ToneFactory
) -> None:
    server = server_factory(max_upload_bytes=50_000)
    source = tone("big.wav", seconds=2.0)
    with server.client() as api, pytest.raises(ApiError) as caught:
        api.create_job(source, ClientOptions("mp3"))
    assert caught.value.status_code == 413
    assert caught.value.code == "request_too_large"
    inputs = server.settings.data_dir / "blobs" / "inputs"
    assert not inputs.exists() or list(inputs.iterdir()) == []


def test_streamed_upload_over_limit_is_cut(
    server_factory: ServerFactory, tone: ToneFactory
) -> None:
    server = server_factory(max_upload_bytes=50_000)
    source = tone("big.wav", seconds=2.0)

    def chunks() -> Iterator[bytes]:
        boundary = b"--x\r\n"
        yield boundary
        yield b'Content-Disposition: form-data; name="format"\r\n\r\nmp3\r\n'
        yield boundary
        yield (
            b'Content-Disposition: form-data; name="file"; filename="big.wav"\r\n'
            b"Content-Type: audio/wav\r\n\r\n"
        )
        yield source.read_bytes()
        yield b"\r\n--x--\r\n"

    headers = {**AUTH, "Content-Type": "multipart/form-data; boundary=x"}
    response = httpx.post(
        f"{server.url}/api/v1/jobs", headers=headers, content=chunks(), timeout=30
    )
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"


def test_input_over_duration_limit_fails(tone: ToneFactory, tmp_path: Path) -> None:
    converter = Converter(FFMPEG, tmp_path / "work", max_duration_seconds=1.0)
    with pytest.raises(InvalidInput) as caught:
        converter.convert(tone("long.wav", 3.0), "long.wav", ConversionOptions("mp3"))
    assert caught.value.code == "too_long"
    assert "long.wav" in caught.value.message


def test_conversion_over_time_limit_fails(tone: ToneFactory, tmp_path: Path) -> None:
    work = tmp_path / "work"
    converter = Converter(FFMPEG, work, timeout_seconds=0.2)
    source = tone("slow.wav", seconds=900.0, rate=22_050, channels=1)
    with pytest.raises(ConversionFailed) as caught:
        converter.convert(source, "slow.wav", ConversionOptions("opus"))
    assert caught.value.code == "timed_out"
    assert "slow.wav" in caught.value.message
    assert list(work.iterdir()) == []


@pytest.fixture
def loopback_server(tmp_path: Path) -> Iterator[int]:
    process = subprocess.Popen(
        [sys.executable, "-m", "backend", "--port", "0",
         "--data-dir", str(tmp_path / "data")],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "AUDIO_CONVERTER_TOKEN": TEST_TOKEN},
    )  # fmt: skip
    try:
        assert process.stdout is not None
        yield int(json.loads(process.stdout.readline())["port"])
    finally:
        process.kill()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


def test_foreign_host_header_is_rejected(loopback_server: int) -> None:
    url = f"http://127.0.0.1:{loopback_server}/api/v1/formats"
    response = httpx.get(url, headers={**AUTH, "Host": "evil.example"}, timeout=10)
    assert response.status_code == 421
    assert response.json()["code"] == "invalid_host"


def test_loopback_host_header_is_served(loopback_server: int) -> None:
    url = f"http://127.0.0.1:{loopback_server}/api/v1/formats"
    assert httpx.get(url, headers=AUTH, timeout=10).status_code == 200
    localhost = {**AUTH, "Host": f"localhost:{loopback_server}"}
    assert httpx.get(url, headers=localhost, timeout=10).status_code == 200


def test_no_cors_headers(loopback_server: int) -> None:
    url = f"http://127.0.0.1:{loopback_server}/api/v1/formats"
    response = httpx.options(
        url,
        headers={
            "Origin": "http://evil.example",
            "Access-Control-Request-Method": "GET",
        },
        timeout=10,
    )
    assert "access-control-allow-origin" not in response.headers


def test_job_visible_only_to_its_token(
    server_factory: ServerFactory, tone: ToneFactory
) -> None:
    server = server_factory(extra_tokens=["second-team-token"])
    with server.client() as first:
        job = first.create_job(tone("mine.wav"), ClientOptions("mp3"))
    with server.client(token="second-team-token") as second:
        with pytest.raises(ApiError) as caught:
            second.get_job(job.id)
        assert caught.value.status_code == 404
        with pytest.raises(ApiError):
            second.get_progress(job.id)
        with pytest.raises(ApiError):
            second.cancel_job(job.id)
    with server.client() as first:
        assert first.get_job(job.id).id == job.id
