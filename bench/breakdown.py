"""Stage times of one steady-state conversion, from upload to saved output.

The backend runs in this process with the FFmpeg launcher and the progress
store wrapped as in the latency measurement, so each stage's start and end
are known to the millisecond. Client and server share this process (and
its GIL) here, unlike in the overhead table.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.latency import ExitRecorder, PublishRecorder, recording_ffmpeg_exits
from bench.report import table
from bench.servers import in_process_server
from bench.tools import Target, bare_ffmpeg
from desktop_app.cli import DEFAULT_POLL_SECONDS
from desktop_app.client.api import ApiClient
from desktop_app.client.downloader import Downloader
from desktop_app.client.poller import Poller

HEADERS = (
    "format", "bare FFmpeg", "upload and probe", "encode", "verify",
    "tags, store and commit", "until the client polls", "download", "total",
)  # fmt: skip
JOB_TIMEOUT_SECONDS = 1800.0


@dataclass(frozen=True)
class Stages:
    """Seconds spent in each stage of one conversion."""

    # Until the encoder starts: the backend queues the job while the client
    # still waits for the response, so the two cannot be told apart.
    upload_and_probe: float
    encode: float
    verify: float
    store_and_commit: float
    notice: float
    download: float

    @property
    def total(self) -> float:
        return (
            self.upload_and_probe + self.encode + self.verify
            + self.store_and_commit + self.notice + self.download
        )  # fmt: skip


def measure_stages(source: Path, work: Path, targets: Sequence[Target]) -> str:
    """Return a table splitting one conversion per target format into stages."""
    rows = []
    out_dir = work / "stages-out"
    out_dir.mkdir()
    with (
        recording_ffmpeg_exits() as recorder,
        in_process_server(work / "stages") as server,
        ApiClient(server.url, server.token) as api,
    ):
        published = PublishRecorder(server.backend.service.progress)
        for target in targets:
            bare = bare_ffmpeg(source, out_dir, target)
            stages = _convert(api, source, target, out_dir, recorder, published)
            for output in out_dir.iterdir():
                output.unlink()
            cells = [
                stages.upload_and_probe, stages.encode, stages.verify,
                stages.store_and_commit, stages.notice, stages.download,
                stages.total,
            ]  # fmt: skip
            rows.append([target.label, f"{bare:.2f}", *(f"{c:.2f}" for c in cells)])
    return table(HEADERS, rows)


def _convert(
    api: ApiClient,
    source: Path,
    target: Target,
    out_dir: Path,
    recorder: ExitRecorder,
    published: PublishRecorder,
) -> Stages:
    recorder.take()
    poller = Poller(api)
    upload_started = time.monotonic()
    job = api.create_job(source, target.client_options)
    poller.track(job)
    deadline = time.monotonic() + JOB_TIMEOUT_SECONDS
    while True:
        poller.poll()
        seen = time.monotonic()
        if poller.state(job.id).is_terminal:
            break
        if seen > deadline:
            raise RuntimeError(
                f"Converting {source.name} did not finish within "
                f"{JOB_TIMEOUT_SECONDS:.0f} s."
            )
        time.sleep(DEFAULT_POLL_SECONDS)
    state = poller.state(job.id)
    if not state.is_downloadable or state.job is None:
        raise RuntimeError(f"Converting {source.name} failed: {state.error_message}")
    Downloader(api).download(state.job, out_dir)
    downloaded = time.monotonic()

    runs = recorder.take()
    encoder = next(run for run in runs if run.is_encoder)
    verifier = max(runs, key=lambda run: run.at)
    return Stages(
        upload_and_probe=encoder.started - upload_started,
        encode=encoder.at - encoder.started,
        verify=verifier.at - verifier.started,
        store_and_commit=published.completed_at[job.id] - verifier.at,
        notice=seen - published.completed_at[job.id],
        download=downloaded - seen,
    )
