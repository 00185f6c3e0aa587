"""A download cut short by a crash resumes on the next run from its part file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx

from desktop_app.client.api import ApiClient
from desktop_app.client.downloader import Downloader, file_sha256
from desktop_app.client.models import ConversionOptions, JobInfo
from tests.helpers.jobs import finished_job
from tests.helpers.plugin import ToneFactory
from tests.helpers.server import LiveServer

REPO_ROOT = Path(__file__).resolve().parents[3]

# Downloads until half the bytes are written, then dies without cleaning up.
CRASHING_DOWNLOAD = """
import json, os, sys
from pathlib import Path
from desktop_app.client.api import ApiClient
from desktop_app.client.downloader import Downloader
from desktop_app.client.models import JobInfo

url, token, job_json, folder = sys.argv[1:5]
job = JobInfo.from_json(json.loads(job_json))

def crash_at_half(done, total):
    if done >= total // 2:
        os._exit(3)

with ApiClient(url, token) as api:
    Downloader(api).download(job, Path(folder), on_progress=crash_at_half)
"""


class RecordingTransport(httpx.HTTPTransport):
    """The real transport, keeping the headers of every request."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[httpx.Headers] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request.headers)
        return super().handle_request(request)


def _job_json(job: JobInfo) -> str:
    assert job.output is not None
    return json.dumps(
        {
            "id": job.id,
            "status": job.status,
            "filename": job.filename,
            "input_size": job.input_size,
            "options": {"format": job.options.format},
            "output": {
                "filename": job.output.filename,
                "size": job.output.size,
                "sha256": job.output.sha256,
                "duration_seconds": job.output.duration_seconds,
            },
        }
    )


def _crash_mid_download(server: LiveServer, job: JobInfo, folder: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-c", CRASHING_DOWNLOAD, server.url, server.token or "",
         _job_json(job), str(folder)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # fmt: skip
    assert completed.returncode == 3, completed.stderr


def _completed_wav(api: ApiClient, tone: ToneFactory) -> JobInfo:
    job = api.create_job(tone("album.wav", seconds=30.0), ConversionOptions("wav"))
    done = finished_job(api, job.id)
    assert done.output is not None
    return done


def test_resume_after_crash(
    live_server: LiveServer, api: ApiClient, tone: ToneFactory, tmp_path: Path
) -> None:
    job = _completed_wav(api, tone)
    assert job.output is not None
    folder = tmp_path / "saved"
    _crash_mid_download(live_server, job, folder)
    leftovers = sorted(path.name for path in folder.iterdir())
    assert len(leftovers) == 2
    part = next(path for path in folder.iterdir() if path.suffix == ".part")
    assert 0 < part.stat().st_size < job.output.size

    transport = RecordingTransport()
    with live_server.client(transport=transport) as fresh:
        saved = Downloader(fresh).download(job, folder)

    assert file_sha256(saved) == job.output.sha256
    assert sorted(path.name for path in folder.iterdir()) == [saved.name]
    output_requests = [h for h in transport.requests if "range" in h]
    assert len(output_requests) == 1
    assert output_requests[0]["if-range"] == f'"{job.output.sha256}"'


def test_stale_part_restarts_from_zero(
    api: ApiClient, tone: ToneFactory, tmp_path: Path
) -> None:
    job = _completed_wav(api, tone)
    assert job.output is not None
    folder = tmp_path / "saved"
    folder.mkdir()
    part = folder / f"album.wav.{job.id[:8]}.part"
    part.write_bytes(b"bytes of some older output" * 100)
    part.with_name(part.name + ".etag").write_text('"an-older-etag"')

    saved = Downloader(api).download(job, folder)
    assert file_sha256(saved) == job.output.sha256
    assert sorted(path.name for path in folder.iterdir()) == ["album.wav"]
