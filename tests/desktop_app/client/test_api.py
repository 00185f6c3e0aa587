"""API client: error mapping, Retry-After, and real requests to a live server."""

from __future__ import annotations

import email.utils
import socket
import uuid
from typing import Any

import httpx
import pytest

from desktop_app.client.api import ApiClient, error_from_response, parse_retry_after
from desktop_app.client.errors import ApiError, ServerUnreachable, TransientApiError
from desktop_app.client.models import ConversionOptions
from tests.helpers.jobs import finished_job
from tests.helpers.plugin import ToneFactory
from tests.helpers.server import LiveServer

NOW = 1_700_000_000.0  # Tue, 14 Nov 2023 22:13:20 GMT


def closed_port() -> int:
    """Return a loopback port that nothing listens on (bound once, then closed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def error_response(
    status_code: int, body: dict[str, Any] | None = None, **headers: str
) -> httpx.Response:
    return httpx.Response(status_code, json=body or {}, headers=headers)


@pytest.mark.parametrize(
    ("status_code", "code"),
    [
        (409, "not_completed"),
        (429, "rate_limited"),
        (502, "bad_gateway"),
        (503, "unavailable"),
        (504, "gateway_timeout"),
    ],
)
def test_transient_statuses_map_to_transient(status_code: int, code: str) -> None:
    error = error_from_response(
        error_response(status_code, {"code": code, "message": "Try again."})
    )

    assert isinstance(error, TransientApiError)
    assert error.status_code == status_code
    assert error.code == code


@pytest.mark.parametrize(
    ("status_code", "code"),
    [
        (401, "unauthorized"),
        (404, "job_not_found"),
        (409, "transition_rejected"),
        (410, "job_cancelled"),
        (422, "job_failed"),
        (500, "internal_error"),
    ],
)
def test_final_statuses_map_to_api_error(status_code: int, code: str) -> None:
    error = error_from_response(
        error_response(status_code, {"code": code, "message": "Final."})
    )

    assert type(error) is ApiError
    assert error.status_code == status_code
    assert error.code == code


def test_error_keeps_message_and_retry_after() -> None:
    body = {"code": "not_completed", "message": "Conversion is not completed yet."}

    error = error_from_response(error_response(409, body, **{"Retry-After": "3"}))

    assert error.message == "Conversion is not completed yet."
    assert str(error) == "Conversion is not completed yet."
    assert error.retry_after == 3.0


def test_error_without_json_body() -> None:
    response = httpx.Response(502, text="<html>Bad Gateway</html>")

    error = error_from_response(response)

    assert isinstance(error, TransientApiError)
    assert error.code == "http_502"
    assert "502" in error.message
    assert error.retry_after is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("0", 0.0),
        ("5", 5.0),
        (" 120 ", 120.0),
        (email.utils.formatdate(NOW + 30, usegmt=True), 30.0),
        (email.utils.formatdate(NOW - 30, usegmt=True), 0.0),
        ("Tue, 14 Nov 2023 22:14:00 GMT", 40.0),
        ("soon", None),
        ("1.5", None),
        ("-1", None),
        ("", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected


def test_retry_after_superscript_digit_ignored() -> None:
    # httpx decodes a header byte 0xB2 as Latin-1 '²'.
    response = httpx.Response(503, headers=[(b"Retry-After", b"\xb2")])

    error = error_from_response(response)

    assert isinstance(error, TransientApiError)
    assert error.retry_after is None


def test_closed_port_raises_unreachable() -> None:
    url = f"http://127.0.0.1:{closed_port()}"

    with ApiClient(url, "token") as client, pytest.raises(ServerUnreachable) as caught:
        client.health()

    assert url in str(caught.value)
    assert "could not connect" in str(caught.value)


def test_health_needs_no_token(live_server: LiveServer) -> None:
    with ApiClient(live_server.url) as client:
        assert client.health()["status"] == "ok"


@pytest.mark.parametrize("token", ["wrong-token", None])
def test_bad_token_gets_401(live_server: LiveServer, token: str | None) -> None:
    with (
        ApiClient(live_server.url, token) as client,
        pytest.raises(ApiError) as caught,
    ):
        client.formats()

    assert caught.value.status_code == 401
    assert caught.value.code == "unauthorized"
    assert not isinstance(caught.value, TransientApiError)


def test_unknown_job_gets_404(api: ApiClient) -> None:
    with pytest.raises(ApiError) as caught:
        api.get_job(str(uuid.uuid4()))

    assert caught.value.status_code == 404
    assert caught.value.code == "job_not_found"


def test_formats_include_flac(api: ApiClient) -> None:
    formats = {item.name: item for item in api.formats()}

    assert "flac" in formats
    assert formats["flac"].lossless
    assert formats["flac"].extension == "flac"


def test_upload_progress_reaches_file_size(api: ApiClient, tone: ToneFactory) -> None:
    source = tone("upload.wav", seconds=2.0)
    size = source.stat().st_size
    reports: list[tuple[int, int]] = []

    job = api.create_job(
        source,
        ConversionOptions(format="flac"),
        on_upload=lambda sent, total: reports.append((sent, total)),
    )

    assert job.input_size == size
    assert reports[-1] == (size, size)
    sent = [done for done, _ in reports]
    assert sent == sorted(sent)


def test_non_ascii_filename_round_trips(api: ApiClient, tone: ToneFactory) -> None:
    name = "Ünïcödé – 测试.wav"
    source = tone(name, seconds=1.0)

    created = api.create_job(source, ConversionOptions(format="flac"))
    done = finished_job(api, created.id)

    assert created.filename == name
    assert done.filename == name
    assert done.output is not None
    assert done.output.filename == "Ünïcödé – 测试.flac"


def test_stream_output_of_unknown_job(api: ApiClient) -> None:
    with (
        pytest.raises(ApiError) as caught,
        api.stream_output(str(uuid.uuid4())) as response,
    ):
        response.read()

    assert caught.value.status_code == 404
