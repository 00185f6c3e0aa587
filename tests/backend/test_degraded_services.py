"""The backend while Redis, DynamoDB or S3 is down, and a download that drops.

Every test runs a real server on the service stores: Redis for progress,
DynamoDB and S3 (moto's server mode) for jobs and files. An outage is made
either by stopping a Redis server that only the test uses or by cutting a
TCP proxy between the backend and a service. Conversions wait for a gate
that the test opens, so each outage begins while a job is running. Every job
the server accepts must reach a final status within a bounded time.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import redis

from backend.stores.redis_progress import KEY_PREFIX
from desktop_app.client.api import ApiClient
from desktop_app.client.downloader import Downloader
from desktop_app.client.errors import ApiError, TransientApiError
from desktop_app.client.models import ConversionOptions, JobInfo, ProgressInfo
from tests.helpers.audio import decoded_duration
from tests.helpers.faults import GatedJobService
from tests.helpers.jobs import wait_for_stage
from tests.helpers.plugin import TEST_TOKEN, ServerFactory, ToneFactory
from tests.helpers.proxy import TcpProxy
from tests.helpers.server import LiveServer
from tests.helpers.services import MotoServer, RedisServer

AUTH = {"Authorization": f"Bearer {TEST_TOKEN}"}
FINAL_STATUSES = ("completed", "failed", "cancelled")

JOB_TIMEOUT_SECONDS = 60.0
# Bound for waits on a step that takes milliseconds when nothing is wrong.
STEP_TIMEOUT_SECONDS = 10.0
# Bound for a job to settle once every store is reachable again.
SETTLE_TIMEOUT_SECONDS = 10.0
POLL_SECONDS = 0.02

BATCH_JOBS = 10
REDIS_OUTAGE_SECONDS = 1.5
# How long a worker retries a store call when a test shortens that time.
SHORT_RETRY_WINDOW_SECONDS = 0.2
# Upper bound on an outage that otherwise ends when the worker leaves its job.
MAX_OUTAGE_SECONDS = 10.0

GatedServerFactory = Callable[..., LiveServer]


@pytest.fixture
def store_set() -> str:
    """Run this module once, on the service stores, because it tests their faults."""
    return "services"


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis server only this test uses, so the test may stop and restart it."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_proxy(own_redis: RedisServer) -> Iterator[TcpProxy]:
    """A TCP proxy in front of the test's own Redis server."""
    proxy = TcpProxy(own_redis.port)
    yield proxy
    proxy.close()


@pytest.fixture
def aws_proxy(moto_server: MotoServer) -> Iterator[TcpProxy]:
    """A TCP proxy in front of moto, so DynamoDB and S3 can be cut together."""
    proxy = TcpProxy(moto_server.port)
    yield proxy
    proxy.close()


@pytest.fixture
def gated_factory(server_factory: ServerFactory) -> Iterator[GatedServerFactory]:
    """Start servers on WatchedJobService, whose conversions wait for its gate.

    Every gate is set at teardown, before the servers stop, so a test that
    fails early leaves no worker waiting.
    """
    gates: list[threading.Event] = []

    def start(**overrides: Any) -> LiveServer:
        server = server_factory(service_class=WatchedJobService, **overrides)
        gates.append(_watched_service(server).gate)
        return server

    yield start
    for gate in gates:
        gate.set()


class WatchedJobService(GatedJobService):
    """A gated job service that records when a worker returns from a job."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.run_returned = threading.Event()

    def run_job(self, job_id: str) -> None:
        try:
            super().run_job(job_id)
        finally:
            self.run_returned.set()


class ProgressRecorder:
    """Polls job progress through the API and keeps every response.

    An error response is recorded by its status code instead of raised, so a
    test can check that no response was a server error.
    """

    def __init__(self, api: ApiClient) -> None:
        self._api = api
        self.responses: dict[str, list[ProgressInfo]] = defaultdict(list)
        self.error_statuses: list[int] = []

    def poll(self, job_ids: Iterable[str]) -> None:
        """Request the progress of each job that has not reported a final stage."""
        for job_id in job_ids:
            if self.is_final(job_id):
                continue
            try:
                progress = self._api.get_progress(job_id)
            except ApiError as error:
                self.error_statuses.append(error.status_code)
            else:
                self.responses[job_id].append(progress)

    def poll_for(self, seconds: float, job_ids: list[str]) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.poll(job_ids)
            time.sleep(POLL_SECONDS)

    def poll_until_final(
        self, job_ids: list[str], timeout: float = JOB_TIMEOUT_SECONDS
    ) -> None:
        """Poll until every job reports a final stage, or raise TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            self.poll(job_ids)
            waiting = [job_id for job_id in job_ids if not self.is_final(job_id)]
            if not waiting:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"Jobs {waiting} did not report a final stage in {timeout} s"
                )
            time.sleep(POLL_SECONDS)

    def is_final(self, job_id: str) -> bool:
        responses = self.responses.get(job_id)
        if not responses:
            return False
        return responses[-1].is_terminal


class RecordingTransport(httpx.HTTPTransport):
    """An HTTP transport that keeps every request it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return super().handle_request(request)


def _watched_service(server: LiveServer) -> WatchedJobService:
    service = server.service
    assert isinstance(service, WatchedJobService)
    return service


def _wait_until(
    condition: Callable[[], bool], what: str, timeout: float = STEP_TIMEOUT_SECONDS
) -> None:
    """Poll `condition` until it is true, or raise TimeoutError after `timeout`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"Timed out after {timeout} s waiting for {what}")
        time.sleep(POLL_SECONDS)


def _settled_job(
    api: ApiClient, job_id: str, timeout: float = JOB_TIMEOUT_SECONDS
) -> JobInfo:
    """Wait until the job's progress shows a final stage, then return its record."""
    wait_for_stage(api, job_id, FINAL_STATUSES, timeout=timeout)
    return api.get_job(job_id)


def _assert_final(job: JobInfo) -> None:
    """Assert that the job reached a final status, with a message if it failed."""
    assert job.status in FINAL_STATUSES, f"job {job.id} is still {job.status}"
    if job.status == "failed":
        assert job.error_message, f"job {job.id} failed without an error message"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _redis_stage(client: redis.Redis, job_id: str) -> str | None:
    """Return the stage the job's progress hash in Redis contains, if any."""
    stage = client.hget(KEY_PREFIX + job_id, "stage")
    return None if stage is None else str(stage)


def test_redis_down_mid_job(
    own_redis: RedisServer,
    gated_factory: GatedServerFactory,
    tone: ToneFactory,
    tmp_path: Path,
) -> None:
    server = gated_factory(redis_url=own_redis.url)
    gate = _watched_service(server).gate
    source = tone("long.wav", seconds=60.0)
    options = ConversionOptions("opus")

    with (
        server.client() as api,
        redis.Redis.from_url(own_redis.url, decode_responses=True) as probe,
    ):
        recorder = ProgressRecorder(api)
        job_id = api.create_job(source, options).id
        wait_for_stage(api, job_id, ("converting",), timeout=STEP_TIMEOUT_SECONDS)
        own_redis.stop()
        recorder.poll([job_id])
        gate.set()
        recorder.poll_until_final([job_id])
        job = api.get_job(job_id)
        saved = Downloader(api).download(job, tmp_path / "downloads")

        # With Redis back, a new job's progress is stored there again.
        own_redis.start()
        gate.clear()
        second_id = api.create_job(source, options).id
        _wait_until(
            lambda: _redis_stage(probe, second_id) == "converting",
            "the second job's progress in Redis",
        )
        second_running = api.get_progress(second_id)
        gate.set()
        second_job = _settled_job(api, second_id)
        second_stage = _redis_stage(probe, second_id)

    assert recorder.error_statuses == []
    *running, final = recorder.responses[job_id]
    # The job store has the stage of a running job but no percentage.
    assert running
    assert {progress.stage for progress in running} == {"converting"}
    assert {progress.progress for progress in running} == {None}
    assert final.stage == "completed"
    assert final.progress == 100
    _assert_final(job)
    assert job.status == "completed"
    assert job.output is not None
    assert _sha256(saved) == job.output.sha256
    assert second_running.stage == "converting"
    assert second_running.progress == 0
    _assert_final(second_job)
    assert second_job.status == "completed"
    assert second_stage == "completed"


def test_redis_restart_during_batch(
    own_redis: RedisServer, gated_factory: GatedServerFactory, tone: ToneFactory
) -> None:
    server = gated_factory(redis_url=own_redis.url, workers=4)
    gate = _watched_service(server).gate
    source = tone("batch.wav", seconds=20.0)

    with server.client() as api:
        job_ids = [
            api.create_job(source, ConversionOptions("opus")).id
            for _ in range(BATCH_JOBS)
        ]
        recorder = ProgressRecorder(api)
        recorder.poll(job_ids)
        own_redis.stop()
        try:
            # The first jobs convert while Redis is down, the rest after.
            gate.set()
            recorder.poll_for(REDIS_OUTAGE_SECONDS, job_ids)
        finally:
            own_redis.start()
        recorder.poll_until_final(job_ids)
        jobs = [api.get_job(job_id) for job_id in job_ids]

    assert recorder.error_statuses == []
    for job in jobs:
        _assert_final(job)
        assert job.status in ("completed", "failed")
        responses = recorder.responses[job.id]
        known = [item.progress for item in responses if item.progress is not None]
        assert max(known) <= 100
        assert responses[-1].stage == job.status
        if job.status == "completed":
            assert responses[-1].progress == 100


def test_aws_outage_answers_503(
    aws_proxy: TcpProxy,
    gated_factory: GatedServerFactory,
    tone: ToneFactory,
    tmp_path: Path,
) -> None:
    server = gated_factory(
        dynamodb_endpoint_url=aws_proxy.url,
        s3_endpoint_url=aws_proxy.url,
        aws_max_attempts=1,
        store_outage_seconds=30.0,
    )
    gate = _watched_service(server).gate
    source = tone("outage.wav", seconds=10.0)
    options = ConversionOptions("mp3")

    with (
        server.client() as api,
        httpx.Client(base_url=f"{server.url}/api/v1", timeout=30) as http,
    ):
        job_id = api.create_job(source, options).id
        wait_for_stage(api, job_id, ("converting",), timeout=STEP_TIMEOUT_SECONDS)
        aws_proxy.cut()
        try:
            status_response = http.get(f"/jobs/{job_id}", headers=AUTH)
            with pytest.raises(TransientApiError) as upload_error:
                api.create_job(source, options)
            # The proxy also counts the connections it closes during a cut.
            connections_before = aws_proxy.connections
            gate.set()
            _wait_until(
                lambda: aws_proxy.connections > connections_before,
                "the running job to call a store during the outage",
            )
        finally:
            aws_proxy.restore()
        job = _settled_job(api, job_id)
        saved = Downloader(api).download(job, tmp_path / "downloads")

    assert status_response.status_code == 503
    expected_delay = str(server.settings.store_retry_after_seconds)
    assert status_response.headers.get("Retry-After") == expected_delay
    assert status_response.json()["code"] == "service_unavailable"
    assert upload_error.value.status_code == 503
    assert upload_error.value.code == "service_unavailable"
    _assert_final(job)
    assert job.status == "completed"
    assert job.output is not None
    assert _sha256(saved) == job.output.sha256
    duration = decoded_duration(saved)
    assert duration is not None
    assert abs(duration - 10.0) < 0.1


def test_download_resumes_after_drop(
    live_server: LiveServer, tone: ToneFactory, tmp_path: Path
) -> None:
    # 10 s of 16-bit stereo WAV at 44.1 kHz is about 1.7 MB, so several of
    # the downloader's 256 KiB chunks reach the part file before the drop.
    with live_server.client() as api:
        created = api.create_job(
            tone("drop.wav", seconds=10.0), ConversionOptions("wav")
        )
        job = _settled_job(api, created.id)
    _assert_final(job)
    assert job.status == "completed"
    assert job.output is not None

    backend_port = urlsplit(live_server.url).port
    assert backend_port is not None
    proxy = TcpProxy(backend_port)
    transport = RecordingTransport()
    sleeps: list[float] = []
    try:
        with ApiClient(
            proxy.url, live_server.token, transport=transport
        ) as api_via_proxy:
            # The proxy counts the response's bytes including its headers.
            proxy.drop_next_after(job.output.size // 2)
            downloader = Downloader(api_via_proxy, sleep=sleeps.append)
            saved = downloader.download(job, tmp_path / "downloads")
    finally:
        proxy.close()

    assert _sha256(saved) == job.output.sha256
    assert proxy.connections == 2
    assert len(sleeps) == 1
    first, second = transport.requests
    assert "Range" not in first.headers
    resumed_from = int(second.headers["Range"].removeprefix("bytes=").rstrip("-"))
    assert 0 < resumed_from < job.output.size
    assert second.headers["If-Range"] == f'"{job.output.sha256}"'


def test_outage_past_retry_window_settles(
    aws_proxy: TcpProxy, gated_factory: GatedServerFactory, tone: ToneFactory
) -> None:
    server = gated_factory(
        dynamodb_endpoint_url=aws_proxy.url,
        s3_endpoint_url=aws_proxy.url,
        aws_max_attempts=1,
        store_outage_seconds=SHORT_RETRY_WINDOW_SECONDS,
    )
    service = _watched_service(server)

    with server.client() as api:
        job_id = api.create_job(tone("long-outage.wav"), ConversionOptions("mp3")).id
        wait_for_stage(api, job_id, ("converting",), timeout=STEP_TIMEOUT_SECONDS)
        aws_proxy.cut()
        try:
            service.gate.set()
            # If the worker keeps retrying instead, the outage ends after
            # MAX_OUTAGE_SECONDS, so a product that waits for the stores passes.
            service.run_returned.wait(MAX_OUTAGE_SECONDS)
        finally:
            aws_proxy.restore()
        job = _settled_job(api, job_id, timeout=SETTLE_TIMEOUT_SECONDS)

    _assert_final(job)


def test_lost_final_publish_settles(
    own_redis: RedisServer,
    redis_proxy: TcpProxy,
    gated_factory: GatedServerFactory,
    tone: ToneFactory,
) -> None:
    server = gated_factory(redis_url=f"redis://127.0.0.1:{redis_proxy.port}/0")
    gate = _watched_service(server).gate

    with (
        server.client() as api,
        redis.Redis.from_url(own_redis.url, decode_responses=True) as probe,
    ):
        job_id = api.create_job(tone("blip.wav"), ConversionOptions("mp3")).id
        _wait_until(
            lambda: _redis_stage(probe, job_id) == "converting",
            "the job's progress in Redis",
        )
        # Redis keeps its data, because only the backend's connections are cut.
        redis_proxy.cut()
        try:
            gate.set()
            _wait_until(
                lambda: api.get_job(job_id).status in FINAL_STATUSES,
                "the job store to record a final status",
                timeout=JOB_TIMEOUT_SECONDS,
            )
        finally:
            redis_proxy.restore()
        job = _settled_job(api, job_id, timeout=SETTLE_TIMEOUT_SECONDS)

    _assert_final(job)
    assert job.status == "completed"
