"""Wait for jobs through the real API."""

from __future__ import annotations

import time

from desktop_app.client.api import ApiClient
from desktop_app.client.models import JobInfo, ProgressInfo

WAIT_SECONDS = 60.0
POLL_SECONDS = 0.02


def wait_for_stage(
    api: ApiClient,
    job_id: str,
    stages: tuple[str, ...] = ("completed", "failed", "cancelled"),
    timeout: float = WAIT_SECONDS,
) -> list[ProgressInfo]:
    """Poll until the job reaches one of `stages`; return every response read."""
    seen: list[ProgressInfo] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        progress = api.get_progress(job_id)
        seen.append(progress)
        if progress.stage in stages:
            return seen
        time.sleep(POLL_SECONDS)
    raise TimeoutError(f"Job {job_id} did not reach {stages} in {timeout} s")


def finished_job(api: ApiClient, job_id: str) -> JobInfo:
    """Wait for a final stage and return the job record."""
    wait_for_stage(api, job_id)
    return api.get_job(job_id)
