from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest

from desktop_app.client.api import ApiClient
from desktop_app.client.models import ConversionOptions
from tests.helpers.audio import decoded_duration
from tests.helpers.faults import GatedJobService
from tests.helpers.jobs import finished_job, wait_for_stage
from tests.helpers.plugin import TEST_TOKEN, ServerFactory, ToneFactory
from tests.helpers.server import LiveServer

AUTH = {"Authorization": f"Bearer {TEST_TOKEN}"}


@pytest.fixture
def http(live_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{live_server.url}/api/v1", timeout=30) as client:
        yield client


@pytest.fixture
def gated(server_factory: ServerFactory) -> LiveServer:
    return server_factory(service_class=GatedJobService)


def _gate(server: LiveServer) -> GatedJobService:
    service = server.service
    assert isinstance(service, GatedJobService)
    return service


def _upload(http: httpx.Client, path: Path, **fields: str) -> httpx.Response:
    with open(path, "rb") as handle:
        return http.post(
            "/jobs",
            headers=AUTH,
            files={"file": (path.name, handle, "audio/wav")},
            data={"format": "mp3", **fields},
        )


def test_health_needs_no_token(http: httpx.Client) -> None:
    response = http.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_openapi_schema_is_served(http: httpx.Client) -> None:
    schema = http.get("/openapi.json").json()
    assert "/api/v1/jobs/{job_id}/output" in schema["paths"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}])
def test_token_is_required(http: httpx.Client, headers: dict[str, str]) -> None:
    response = http.get("/formats", headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    assert response.json()["message"]


def test_convert_and_download(
    api: ApiClient, http: httpx.Client, tone: ToneFactory
) -> None:
    source = tone("Ünïcödé – 测试.wav", seconds=2.0)
    job = api.create_job(source, ConversionOptions(format="mp3", bitrate_kbps=128))
    assert job.status == "queued"
    assert job.filename == "Ünïcödé – 测试.wav"

    done = finished_job(api, job.id)
    assert done.status == "completed"
    assert done.output is not None

    response = http.get(f"/jobs/{job.id}/output", headers=AUTH)
    assert response.status_code == 200
    assert response.headers["Content-Length"] == str(done.output.size)
    assert response.headers["ETag"] == f'"{done.output.sha256}"'
    assert response.headers["Content-Type"] == "audio/mpeg"
    disposition = response.headers["Content-Disposition"]
    encoded = disposition.split("filename*=UTF-8''", 1)[1]
    assert unquote(encoded) == "Ünïcödé – 测试.mp3"
    assert hashlib.sha256(response.content).hexdigest() == done.output.sha256


def test_downloaded_output_decodes(
    api: ApiClient, http: httpx.Client, tone: ToneFactory, tmp_path: Path
) -> None:
    source = tone("tone.wav", seconds=3.0)
    job = api.create_job(source, ConversionOptions(format="flac"))
    finished_job(api, job.id)
    target = tmp_path / "tone.flac"
    target.write_bytes(http.get(f"/jobs/{job.id}/output", headers=AUTH).content)
    duration = decoded_duration(target)
    assert duration is not None
    assert abs(duration - 3.0) < 0.05


def test_progress_reaches_100_only_when_completed(
    api: ApiClient, tone: ToneFactory
) -> None:
    job = api.create_job(tone("long.wav", seconds=60.0), ConversionOptions("opus"))
    seen = wait_for_stage(api, job.id)
    assert seen[-1].stage == "completed"
    assert seen[-1].progress == 100
    progresses = [answer.progress for answer in seen]
    assert None not in progresses
    known = [progress for progress in progresses if progress is not None]
    assert all(progress < 100 for progress in known[:-1])
    assert known == sorted(known)


def test_running_job_answers_409(gated: LiveServer, tone: ToneFactory) -> None:
    with gated.client() as api:
        job = api.create_job(tone("a.wav"), ConversionOptions("mp3"))
        wait_for_stage(api, job.id, ("converting",))
    with httpx.Client(base_url=gated.url) as http:
        response = http.get(f"/api/v1/jobs/{job.id}/output", headers=AUTH)
    _gate(gated).gate.set()
    assert response.status_code == 409
    assert response.headers["Retry-After"] == "1"
    body = response.json()
    assert body["code"] == "not_completed"
    assert body["status"] == "running"
    assert body["stage"] == "converting"
    assert "a.wav" in body["message"]


def test_unknown_job_answers_404(http: httpx.Client) -> None:
    for job_id in ("6f1c9a52-0d0e-4b8e-9a43-3c2f1f0f6a11", "not-a-uuid"):
        response = http.get(f"/jobs/{job_id}/output", headers=AUTH)
        assert response.status_code == 404
        assert response.json()["code"] == "job_not_found"


def test_cancelled_job_answers_410(gated: LiveServer, tone: ToneFactory) -> None:
    with gated.client() as api:
        job = api.create_job(tone("c.wav"), ConversionOptions("mp3"))
        wait_for_stage(api, job.id, ("converting",))
        cancelled = api.cancel_job(job.id)
        assert cancelled.status == "cancelled"
        assert wait_for_stage(api, job.id)[-1].stage == "cancelled"
        gated_service = _gate(gated)
        gated_service.gate.set()
    with httpx.Client(base_url=gated.url) as http:
        response = http.get(f"/api/v1/jobs/{job.id}/output", headers=AUTH)
    assert response.status_code == 410
    assert response.json()["code"] == "job_cancelled"
    work = gated.settings.data_dir / "work"
    assert list(work.iterdir()) == []
    outputs = gated.settings.data_dir / "blobs" / "outputs"
    assert not outputs.exists() or list(outputs.iterdir()) == []


def test_server_stop_interrupts_running_job(
    gated: LiveServer, tone: ToneFactory
) -> None:
    with gated.client() as api:
        job = api.create_job(tone("stop.wav"), ConversionOptions("mp3"))
        wait_for_stage(api, job.id, ("converting",))
        _gate(gated).stop_running_jobs()
        stopped = finished_job(api, job.id)
    assert stopped.status == "failed"
    assert stopped.error_code == "interrupted"
    assert "stop.wav" in (stopped.error_message or "")


def test_cancel_of_finished_job_is_harmless(api: ApiClient, tone: ToneFactory) -> None:
    job = api.create_job(tone("d.wav"), ConversionOptions("mp3"))
    finished_job(api, job.id)
    assert api.cancel_job(job.id).status == "completed"


def test_failed_job_answers_422(
    api: ApiClient, http: httpx.Client, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.mp3"
    empty.write_bytes(b"")
    job = api.create_job(empty, ConversionOptions("flac"))
    failed = finished_job(api, job.id)
    assert failed.status == "failed"
    assert failed.error_code == "empty_file"
    response = http.get(f"/jobs/{job.id}/output", headers=AUTH)
    assert response.status_code == 422
    assert response.json()["code"] == "job_failed"
    assert "empty.mp3" in response.json()["message"]


def test_invalid_options_answer_422(http: httpx.Client, tone: ToneFactory) -> None:
    response = _upload(http, tone("e.wav"), format="flac", bitrate_kbps="320")
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_options"
    assert "lossless" in response.json()["message"]


def test_missing_file_answers_422(http: httpx.Client) -> None:
    response = http.post("/jobs", headers=AUTH, data={"format": "mp3"})
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_request"
    assert "file" in response.json()["message"]


def test_adjusted_options_are_reported(api: ApiClient, tone: ToneFactory) -> None:
    source = tone("hires.flac", seconds=1.0, rate=96_000)
    job = api.create_job(source, ConversionOptions("mp3"))
    done = finished_job(api, job.id)
    assert done.status == "completed"
    assert any("48000 Hz" in note for note in done.adjustments)


class TestRanges:
    @pytest.fixture
    def completed(self, api: ApiClient, tone: ToneFactory) -> tuple[str, str, int]:
        job = api.create_job(tone("r.wav"), ConversionOptions("wav"))
        done = finished_job(api, job.id)
        assert done.output is not None
        return job.id, f'"{done.output.sha256}"', done.output.size

    def test_range_returns_206(
        self, http: httpx.Client, completed: tuple[str, str, int]
    ) -> None:
        job_id, _etag, size = completed
        headers = {**AUTH, "Range": "bytes=10-19"}
        response = http.get(f"/jobs/{job_id}/output", headers=headers)
        assert response.status_code == 206
        assert response.headers["Content-Range"] == f"bytes 10-19/{size}"
        assert len(response.content) == 10

    def test_stale_if_range_returns_whole_file(
        self, http: httpx.Client, completed: tuple[str, str, int]
    ) -> None:
        job_id, _etag, size = completed
        headers = {**AUTH, "Range": "bytes=10-", "If-Range": '"old"'}
        response = http.get(f"/jobs/{job_id}/output", headers=headers)
        assert response.status_code == 200
        assert len(response.content) == size

    def test_matching_if_range_resumes(
        self, http: httpx.Client, completed: tuple[str, str, int]
    ) -> None:
        job_id, etag, size = completed
        headers = {**AUTH, "Range": "bytes=100-", "If-Range": etag}
        response = http.get(f"/jobs/{job_id}/output", headers=headers)
        assert response.status_code == 206
        assert len(response.content) == size - 100

    @pytest.mark.parametrize("header", ["bytes=5-2", "bytes=1-" + "9" * 4301])
    def test_unusable_range_returns_whole_file(
        self, http: httpx.Client, completed: tuple[str, str, int], header: str
    ) -> None:
        job_id, _etag, size = completed
        response = http.get(f"/jobs/{job_id}/output", headers={**AUTH, "Range": header})
        assert response.status_code == 200
        assert len(response.content) == size

    def test_range_past_end_returns_416(
        self, http: httpx.Client, completed: tuple[str, str, int]
    ) -> None:
        job_id, _etag, size = completed
        headers = {**AUTH, "Range": f"bytes={size}-"}
        response = http.get(f"/jobs/{job_id}/output", headers=headers)
        assert response.status_code == 416
        assert response.headers["Content-Range"] == f"bytes */{size}"
        assert response.json()["code"] == "range_not_satisfiable"
