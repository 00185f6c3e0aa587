"""Downloader against a real server, with faults injected by a wrapping transport."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from desktop_app.client.api import ApiClient
from desktop_app.client.downloader import (
    DownloadCancelled,
    Downloader,
    RetryPolicy,
    safe_filename,
)
from desktop_app.client.errors import (
    ApiError,
    IntegrityError,
    ServerUnreachable,
    TransientApiError,
)
from desktop_app.client.models import ConversionOptions, JobInfo
from tests.helpers.jobs import finished_job
from tests.helpers.plugin import ToneFactory
from tests.helpers.server import LiveServer

# Waits are recorded, not slept, so these values cost no time.
POLICY = RetryPolicy(retries=3, base_seconds=0.5, cap_seconds=3.0)

Fault = Callable[[httpx.Request, httpx.BaseTransport], httpx.Response]
JobEdit = Callable[[dict[str, Any]], None]


class FaultyTransport(httpx.BaseTransport):
    """Forwards requests to the real server and injects faults into output requests.

    The n-th request for a job's output gets `faults[n]` when that entry exists
    and is not None, else `repeat` when set, else the server's response.
    `edit_job` may change the JSON of every `GET /jobs/{id}` response.
    """

    def __init__(
        self,
        faults: list[Fault | None] | None = None,
        *,
        repeat: Fault | None = None,
        edit_job: JobEdit | None = None,
    ) -> None:
        self._real = httpx.HTTPTransport()
        self._faults = faults or []
        self._repeat = repeat
        self._edit_job = edit_job
        self.output_requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/output"):
            return self._handle_output(request)
        if self._edit_job is not None and re.fullmatch(r".*/jobs/[^/]+", path):
            return self._handle_job(request, self._edit_job)
        return self._real.handle_request(request)

    def close(self) -> None:
        self._real.close()

    def _handle_output(self, request: httpx.Request) -> httpx.Response:
        index = len(self.output_requests)
        self.output_requests.append(request)
        fault = self._faults[index] if index < len(self._faults) else None
        fault = fault or self._repeat
        if fault is None:
            return self._real.handle_request(request)
        return fault(request, self._real)

    def _handle_job(self, request: httpx.Request, edit: JobEdit) -> httpx.Response:
        response = self._real.handle_request(request)
        body = _read_raw(response)
        if response.status_code != 200:
            return _replace_body(response, body)
        data = json.loads(body)
        edit(data)
        return _replace_body(response, json.dumps(data).encode())


class DroppingStream(httpx.SyncByteStream):
    """The real response body, cut off by a connection error after `limit` bytes."""

    def __init__(self, response: httpx.Response, limit: int) -> None:
        self._response = response
        self._limit = limit

    def __iter__(self) -> Iterator[bytes]:
        sent = 0
        for chunk in self._response.iter_raw():
            room = self._limit - sent
            if len(chunk) >= room:
                if room > 0:
                    yield chunk[:room]
                raise httpx.ReadError("Connection dropped by the test transport.")
            sent += len(chunk)
            yield chunk

    def close(self) -> None:
        self._response.close()


def _read_raw(response: httpx.Response) -> bytes:
    try:
        return b"".join(response.iter_raw())
    finally:
        response.close()


def _replace_body(response: httpx.Response, body: bytes) -> httpx.Response:
    headers = [
        (name, value)
        for name, value in response.headers.multi_items()
        if name.lower() != "content-length"
    ]
    return httpx.Response(response.status_code, headers=headers, content=body)


def not_completed(retry_after: str | None = None) -> Fault:
    """Respond 409 not_completed, as the server does while a job converts."""

    def respond(request: httpx.Request, real: httpx.BaseTransport) -> httpx.Response:
        headers = {} if retry_after is None else {"Retry-After": retry_after}
        body = {
            "code": "not_completed",
            "message": "Conversion of tone.wav is not completed yet.",
            "status": "running",
            "stage": "converting",
        }
        return httpx.Response(409, json=body, headers=headers)

    return respond


def error_response(status_code: int, code: str) -> Fault:
    def respond(request: httpx.Request, real: httpx.BaseTransport) -> httpx.Response:
        body = {"code": code, "message": f"Injected {status_code} {code}."}
        return httpx.Response(status_code, json=body)

    return respond


def drop_after(limit: int) -> Fault:
    """Pass the server's response on but drop the connection after `limit` bytes."""

    def respond(request: httpx.Request, real: httpx.BaseTransport) -> httpx.Response:
        response = real.handle_request(request)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=DroppingStream(response, limit),
        )

    return respond


def rewrite_body(change: Callable[[bytes], bytes]) -> Fault:
    """Pass the server's response on with its body changed by `change`."""

    def respond(request: httpx.Request, real: httpx.BaseTransport) -> httpx.Response:
        response = real.handle_request(request)
        return _replace_body(response, change(_read_raw(response)))

    return respond


def flip_last_byte(body: bytes) -> bytes:
    return body[:-1] + bytes([body[-1] ^ 0xFF])


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def folder_contents(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


@pytest.fixture
def job(api: ApiClient, tone: ToneFactory) -> JobInfo:
    """A completed WAV job whose 529 278-byte output spans three 256 KiB chunks."""
    source = tone("tone.wav", seconds=3.0)
    created = api.create_job(source, ConversionOptions(format="wav"))
    done = finished_job(api, created.id)
    assert done.status == "completed"
    assert done.output is not None
    return done


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "downloads"


def test_download_saves_verified_output(
    api: ApiClient, job: JobInfo, folder: Path
) -> None:
    assert job.output is not None
    progress: list[tuple[int, int]] = []

    path = Downloader(api, POLICY).download(
        job, folder, on_progress=lambda done, total: progress.append((done, total))
    )

    assert path == folder / job.output.filename
    assert sha256_of(path) == job.output.sha256
    assert progress[-1] == (job.output.size, job.output.size)
    assert folder_contents(folder) == [job.output.filename]


def test_retries_use_full_jitter(
    live_server: LiveServer, job: JobInfo, folder: Path
) -> None:
    assert job.output is not None
    policy = RetryPolicy(retries=6, base_seconds=0.5, cap_seconds=3.0)
    transport = FaultyTransport([not_completed()] * 6)
    waits: list[float] = []

    with live_server.client(transport=transport) as client:
        path = Downloader(client, policy, sleep=waits.append).download(job, folder)

    assert sha256_of(path) == job.output.sha256
    assert len(transport.output_requests) == 7
    assert len(waits) == 6
    for retry, wait in enumerate(waits):
        ceiling = min(policy.cap_seconds, policy.base_seconds * 2**retry)
        assert 0 <= wait <= ceiling, f"wait {wait} of retry {retry} > {ceiling}"
    assert len(set(waits)) > 1, f"waits do not vary: {waits}"


def test_retry_after_raises_wait(
    live_server: LiveServer, job: JobInfo, folder: Path
) -> None:
    assert job.output is not None
    policy = RetryPolicy(retries=3, base_seconds=0.01, cap_seconds=0.05)
    transport = FaultyTransport([not_completed("2"), not_completed("4")])
    waits: list[float] = []

    with live_server.client(transport=transport) as client:
        path = Downloader(client, policy, sleep=waits.append).download(job, folder)

    assert sha256_of(path) == job.output.sha256
    assert len(waits) == 2
    assert waits[0] >= 2.0
    assert waits[1] >= 4.0


def test_retry_after_capped_by_policy(
    live_server: LiveServer, job: JobInfo, folder: Path
) -> None:
    policy = RetryPolicy(retries=1, base_seconds=0.01, max_retry_after_seconds=5.0)
    transport = FaultyTransport([not_completed("3600")])
    waits: list[float] = []

    with live_server.client(transport=transport) as client:
        Downloader(client, policy, sleep=waits.append).download(job, folder)

    assert waits == [5.0]


def test_dropped_body_resumes_with_range(
    live_server: LiveServer, job: JobInfo, folder: Path
) -> None:
    assert job.output is not None
    transport = FaultyTransport([drop_after(300_000)])
    waits: list[float] = []

    with live_server.client(transport=transport) as client:
        path = Downloader(client, POLICY, sleep=waits.append).download(job, folder)

    first, second = transport.output_requests
    assert "Range" not in first.headers
    match = re.fullmatch(r"bytes=(\d+)-", second.headers.get("Range", ""))
    assert match is not None, f"no open-ended Range: {second.headers}"
    assert 0 < int(match[1]) <= 300_000
    assert second.headers.get("If-Range") == f'"{job.output.sha256}"'
    assert len(waits) == 1
    assert sha256_of(path) == job.output.sha256
    assert folder_contents(folder) == [job.output.filename]


@pytest.mark.parametrize(
    ("status_code", "code"),
    [(404, "job_not_found"), (410, "job_cancelled"), (422, "job_failed")],
)
def test_final_error_is_not_retried(
    live_server: LiveServer, job: JobInfo, folder: Path, status_code: int, code: str
) -> None:
    transport = FaultyTransport(repeat=error_response(status_code, code))
    waits: list[float] = []

    with (
        live_server.client(transport=transport) as client,
        pytest.raises(ApiError) as caught,
    ):
        Downloader(client, POLICY, sleep=waits.append).download(job, folder)

    assert not isinstance(caught.value, TransientApiError)
    assert caught.value.status_code == status_code
    assert caught.value.code == code
    assert len(transport.output_requests) == 1
    assert waits == []


def test_persistent_409_exhausts_retries(
    live_server: LiveServer, job: JobInfo, folder: Path
) -> None:
    transport = FaultyTransport(repeat=not_completed("1"))
    waits: list[float] = []

    with (
        live_server.client(transport=transport) as client,
        pytest.raises(TransientApiError) as caught,
    ):
        Downloader(client, POLICY, sleep=waits.append).download(job, folder)

    assert caught.value.code == "not_completed"
    assert len(transport.output_requests) == POLICY.retries + 1
    assert len(waits) == POLICY.retries


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (error_response(404, "job_not_found"), ApiError),
        (error_response(422, "job_failed"), ApiError),
        (not_completed("1"), TransientApiError),
        (drop_after(1000), ServerUnreachable),
        (rewrite_body(flip_last_byte), IntegrityError),
        (rewrite_body(lambda body: body + b"\0"), IntegrityError),
    ],
    ids=["404", "422", "409", "dropped", "corrupt", "too-long"],
)
def test_failure_leaves_folder_empty(
    live_server: LiveServer,
    job: JobInfo,
    folder: Path,
    fault: Fault,
    error: type[Exception],
) -> None:
    transport = FaultyTransport(repeat=fault)

    with live_server.client(transport=transport) as client, pytest.raises(error):
        Downloader(client, POLICY, sleep=lambda seconds: None).download(job, folder)

    contents = folder_contents(folder)
    assert "tone.wav" not in contents
    if error is ServerUnreachable:
        # Bytes that did arrive are kept, with their ETag, for a later resume.
        assert len(contents) == 2
        assert all(".part" in name for name in contents)
    else:
        assert contents == []


def test_existing_file_is_not_overwritten(
    api: ApiClient, job: JobInfo, folder: Path
) -> None:
    assert job.output is not None
    folder.mkdir()
    existing = folder / "tone.wav"
    existing.write_bytes(b"not to be replaced")
    downloader = Downloader(api, POLICY)

    first = downloader.download(job, folder)
    second = downloader.download(job, folder)

    assert existing.read_bytes() == b"not to be replaced"
    assert first == folder / "tone (1).wav"
    assert second == folder / "tone (2).wav"
    assert sha256_of(first) == job.output.sha256
    assert sha256_of(second) == job.output.sha256


def test_corrupt_bytes_raise_integrity_error(
    live_server: LiveServer, job: JobInfo, folder: Path
) -> None:
    transport = FaultyTransport(repeat=rewrite_body(flip_last_byte))
    waits: list[float] = []

    with (
        live_server.client(transport=transport) as client,
        pytest.raises(IntegrityError),
    ):
        Downloader(client, POLICY, sleep=waits.append).download(job, folder)

    assert len(transport.output_requests) == POLICY.retries + 1
    assert len(waits) == POLICY.retries


def test_long_body_raises_integrity_error(
    live_server: LiveServer, job: JobInfo, folder: Path
) -> None:
    transport = FaultyTransport(repeat=rewrite_body(lambda body: body + b"\0"))

    with (
        live_server.client(transport=transport) as client,
        pytest.raises(IntegrityError),
    ):
        Downloader(client, POLICY, sleep=lambda seconds: None).download(job, folder)

    assert len(transport.output_requests) == POLICY.retries + 1


def test_short_body_raises_integrity_error(
    live_server: LiveServer, job: JobInfo, folder: Path
) -> None:
    def inflate_size(data: dict[str, Any]) -> None:
        data["output"]["size"] += 1000

    transport = FaultyTransport(edit_job=inflate_size)

    with live_server.client(transport=transport) as client:
        claimed = client.get_job(job.id)
        with pytest.raises(IntegrityError):
            Downloader(client, POLICY, sleep=lambda seconds: None).download(
                claimed, folder
            )

    assert folder_contents(folder) == []


def test_cancel_stops_download(api: ApiClient, job: JobInfo, folder: Path) -> None:
    cancel = threading.Event()

    with pytest.raises(DownloadCancelled):
        Downloader(api, POLICY).download(
            job, folder, on_progress=lambda done, total: cancel.set(), cancel=cancel
        )

    assert folder_contents(folder) == []


def test_cancel_interrupts_retry_wait(
    live_server: LiveServer, job: JobInfo, folder: Path
) -> None:
    policy = RetryPolicy(retries=1, max_retry_after_seconds=10.0)
    transport = FaultyTransport(repeat=not_completed("10"))
    cancel = threading.Event()
    timer = threading.Timer(0.2, cancel.set)

    timer.start()
    try:
        with (
            live_server.client(transport=transport) as client,
            pytest.raises(DownloadCancelled),
        ):
            Downloader(client, policy).download(job, folder, cancel=cancel)
    finally:
        timer.cancel()

    assert len(transport.output_requests) == 1
    assert folder_contents(folder) == []


def test_server_filename_cannot_escape_folder(
    live_server: LiveServer, job: JobInfo, folder: Path
) -> None:
    def climb_out(data: dict[str, Any]) -> None:
        data["output"]["filename"] = "../escape.wav"

    transport = FaultyTransport(edit_job=climb_out)

    with live_server.client(transport=transport) as client:
        hostile = client.get_job(job.id)
        path = Downloader(client, POLICY).download(hostile, folder)

    assert hostile.output is not None
    assert hostile.output.filename == "../escape.wav"
    assert path == folder / "escape.wav"
    assert not (folder.parent / "escape.wav").exists()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("x.mp3", "x.mp3"),
        ("../x.mp3", "x.mp3"),
        ("../../etc/x.mp3", "x.mp3"),
        ("/tmp/x.mp3", "x.mp3"),
        ("..\\..\\x.mp3", "x.mp3"),
        ("..", "output"),
        (".", "output"),
        ("", "output"),
        ("  ", "output"),
    ],
)
def test_safe_filename_drops_folders(name: str, expected: str) -> None:
    assert safe_filename(name) == expected


def test_unfinished_job_is_waited_for(
    api: ApiClient, tone: ToneFactory, folder: Path
) -> None:
    source = tone("late.wav", seconds=3.0)
    created = api.create_job(source, ConversionOptions(format="wav"))
    # 400 retries of 0.05 s bound the wait for the conversion to 20 s.
    policy = RetryPolicy(retries=400)
    downloader = Downloader(api, policy, sleep=lambda seconds: time.sleep(0.05))

    path = downloader.download(created, folder)

    done = api.get_job(created.id)
    assert done.output is not None
    assert path == folder / "late.wav"
    assert sha256_of(path) == done.output.sha256


def test_failed_job_is_not_retried(
    api: ApiClient, tmp_path: Path, folder: Path
) -> None:
    empty = tmp_path / "empty.mp3"
    empty.write_bytes(b"")
    created = api.create_job(empty, ConversionOptions(format="wav"))
    failed = finished_job(api, created.id)
    assert failed.status == "failed"
    waits: list[float] = []

    with pytest.raises(ApiError) as caught:
        Downloader(api, POLICY, sleep=waits.append).download(failed, folder)

    assert not isinstance(caught.value, TransientApiError)
    assert waits == []


def test_long_name_fits_file_system_limit() -> None:
    name = "日" * 80 + ".flac"
    fitted = safe_filename(name)
    assert len(fitted.encode()) <= 230
    assert fitted.endswith(".flac")
    assert fitted.startswith("日")
