"""Completion latency: from FFmpeg's exit to what the client sees.

The backend runs in this process with its FFmpeg launcher wrapped: every
FFmpeg process it starts gets a thread that blocks in waitid(WNOWAIT) and
notes the moment the process exits, without reaping it, so the product's
own code runs unchanged. The client side is the CLI's polling loop with its
default interval, and the window's interval for comparison.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import subprocess
import threading
import time
import types
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend.conversion import ffmpeg as ffmpeg_module
from backend.jobs.model import Progress, Stage
from backend.stores.base import ProgressStore
from bench.audio import make_wav
from bench.profile import Profile
from bench.report import millis_cell, table
from bench.servers import in_process_server
from bench.stats import summarize
from bench.tools import TARGETS
from desktop_app.cli import DEFAULT_POLL_SECONDS
from desktop_app.client.api import ApiClient
from desktop_app.client.poller import Poller

logger = logging.getLogger(__name__)

TARGET = TARGETS[0]
JOB_TIMEOUT_SECONDS = 120.0
HEADERS = (
    "client (poll interval)", "from the exit of", "published: median", "p95",
    "`completed` seen: median", "p95", "first byte: median", "p95",
)  # fmt: skip


@dataclass(frozen=True)
class FfmpegExit:
    """When one FFmpeg process started and exited, and if it was the encoder."""

    started: float
    at: float
    is_encoder: bool


class ExitRecorder:
    """Records the exit time of each FFmpeg the backend starts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._exits: list[FfmpegExit] = []

    def popen(self, *args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        started = time.monotonic()
        process: subprocess.Popen[bytes] = subprocess.Popen(*args, **kwargs)
        command: Sequence[str] = args[0] if args else kwargs["args"]
        # Only the encoding run copies the input's metadata.
        is_encoder = "-map_metadata" in command
        threading.Thread(
            target=self._wait, args=(process.pid, started, is_encoder), daemon=True
        ).start()
        return process

    def _wait(self, pid: int, started: float, is_encoder: bool) -> None:
        try:
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
        except ChildProcessError:
            logger.warning("FFmpeg %d was reaped before its exit was seen", pid)
            return
        at = time.monotonic()
        with self._lock:
            self._exits.append(FfmpegExit(started, at, is_encoder))

    def take(self) -> list[FfmpegExit]:
        """Return the exits seen since the last call and forget them."""
        with self._lock:
            exits, self._exits = self._exits, []
        return exits


@contextlib.contextmanager
def recording_ffmpeg_exits() -> Iterator[ExitRecorder]:
    """Wrap the backend's FFmpeg launcher for the duration of the block."""
    recorder = ExitRecorder()
    wrapped = types.ModuleType("subprocess")
    wrapped.__dict__.update(vars(subprocess))
    wrapped.Popen = recorder.popen  # type: ignore[attr-defined]
    original = getattr(ffmpeg_module, "subprocess")  # noqa: B009
    setattr(ffmpeg_module, "subprocess", wrapped)  # noqa: B010
    try:
        yield recorder
    finally:
        setattr(ffmpeg_module, "subprocess", original)  # noqa: B010


class PublishRecorder:
    """Records when the backend publishes `stage=completed` for each job."""

    def __init__(self, store: ProgressStore) -> None:
        self._publish = store.publish
        self.completed_at: dict[str, float] = {}
        # Replaces the method on this store instance only.
        setattr(store, "publish", self.publish)  # noqa: B010

    def publish(self, job_id: str, progress: Progress) -> None:
        self._publish(job_id, progress)
        if progress.stage is Stage.COMPLETED:
            self.completed_at[job_id] = time.monotonic()


@dataclass(frozen=True)
class JobTimes:
    """Delays after one job's FFmpeg runs, in seconds."""

    verifier_to_published: float
    encoder_to_completed: float
    verifier_to_completed: float
    encoder_to_first_byte: float
    verifier_to_first_byte: float


def measure(profile: Profile, work: Path) -> str:
    # Imported here so that the other measurements need no Qt.
    from desktop_app.ui.main_window import POLL_INTERVAL_MS

    source = make_wav(work / "latency.wav", profile.latency_seconds)
    intervals = [
        ("CLI", DEFAULT_POLL_SECONDS),
        ("window", POLL_INTERVAL_MS / 1000),
    ]
    rows = []
    # Fixed seed: reruns start their polls at the same offsets.
    offsets = random.Random(1)
    with (
        recording_ffmpeg_exits() as recorder,
        in_process_server(work / "latency") as server,
        ApiClient(server.url, server.token) as api,
    ):
        published = PublishRecorder(server.backend.service.progress)
        for client, interval in intervals:
            jobs = [
                _run_job(
                    api, source, interval, offsets.uniform(0, interval),
                    recorder, published,
                )
                for _ in range(profile.latency_jobs)
            ]  # fmt: skip
            rows += _rows(client, interval, jobs)
    source.unlink()

    body = (
        f"{profile.latency_jobs} jobs one after another per poll interval, each "
        f"{profile.latency_seconds:g} s of WAV to {TARGET.label}, against a "
        "backend on the embedded stores. Each client starts polling at a "
        "random offset within its interval after the upload, as jobs of "
        "varying length do. Milliseconds. The encoder is the FFmpeg that "
        "writes the output; the verifier is the FFmpeg that then decodes it. "
        "*Published* is the backend's own step: verifier exit to "
        "`stage=completed` in the progress store.\n\n" + table(HEADERS, rows)
    )
    return body


def _rows(client: str, interval: float, jobs: list[JobTimes]) -> list[list[str]]:
    label = f"{client} ({interval * 1000:.0f} ms)"
    rows = []
    for name, completed, first_byte in (
        ("encoder", "encoder_to_completed", "encoder_to_first_byte"),
        ("verifier", "verifier_to_completed", "verifier_to_first_byte"),
    ):
        seen = summarize([getattr(job, completed) for job in jobs])
        first = summarize([getattr(job, first_byte) for job in jobs])
        if name == "verifier":
            server = summarize([job.verifier_to_published for job in jobs])
            published = [millis_cell(server.median), millis_cell(server.p95)]
        else:
            published = ["", ""]
        rows.append(
            [label, name, *published, millis_cell(seen.median),
             millis_cell(seen.p95), millis_cell(first.median),
             millis_cell(first.p95)]
        )  # fmt: skip
    return rows


def _run_job(
    api: ApiClient,
    source: Path,
    interval: float,
    offset: float,
    recorder: ExitRecorder,
    published: PublishRecorder,
) -> JobTimes:
    """Convert `source` once, polling like the CLI; return the delays."""
    recorder.take()
    poller = Poller(api)
    job = api.create_job(source, TARGET.client_options)
    poller.track(job)
    time.sleep(offset)
    deadline = time.monotonic() + JOB_TIMEOUT_SECONDS
    while True:
        states = poller.poll()
        seen = time.monotonic()
        if any(state.is_downloadable for state in states):
            break
        failed = [state for state in states if state.is_terminal]
        if failed:
            raise RuntimeError(
                f"Benchmark job for {source.name} ended as {failed[0].stage}: "
                f"{failed[0].error_message}"
            )
        if seen > deadline:
            raise RuntimeError(
                f"Benchmark job for {source.name} did not complete within "
                f"{JOB_TIMEOUT_SECONDS:.0f} s."
            )
        time.sleep(interval)

    with api.stream_output(job.id) as response:
        for _chunk in response.iter_raw():
            break
        first_byte = time.monotonic()
    exits = recorder.take()
    encoder = max(exit.at for exit in exits if exit.is_encoder)
    verifier = max(exit.at for exit in exits)
    return JobTimes(
        verifier_to_published=published.completed_at[job.id] - verifier,
        encoder_to_completed=seen - encoder,
        verifier_to_completed=seen - verifier,
        encoder_to_first_byte=first_byte - encoder,
        verifier_to_first_byte=first_byte - verifier,
    )
