"""Polling load: progress requests per second with many concurrent pollers.

The backend is the bundled child process. The pollers are asyncio tasks in
this process, each requesting the progress of its own finished job as soon
as the previous response arrived. Both share the machine's cores, so the
rates are a lower bound for a server with cores of its own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import httpx

from backend.api.app import API_PREFIX
from bench.audio import make_wav
from bench.profile import Profile
from bench.report import millis_cell, table
from bench.servers import RunningBackend, bundled_backend, redis_server
from bench.stats import summarize
from bench.tools import TARGETS
from desktop_app.client.api import ApiClient

logger = logging.getLogger(__name__)

TARGET = TARGETS[1]
REQUEST_TIMEOUT_SECONDS = 30.0
HEADERS = ("progress store", "requests/s", "median latency", "p95 latency", "errors")


def measure(profile: Profile, work: Path) -> str:
    source = make_wav(work / "polling.wav", 1.0)
    rows = []
    with bundled_backend(work / "polling-memory") as backend:
        rows.append(_row("embedded (in-process memory)", backend, source, profile))
    with redis_server(work / "redis") as redis_url:
        if redis_url is None:
            rows.append(["Redis", "redis-server not installed", "", "", ""])
        else:
            env = {
                "AUDIO_CONVERTER_PROGRESS_STORE": "redis",
                "AUDIO_CONVERTER_REDIS_URL": redis_url,
            }
            with bundled_backend(work / "polling-redis", extra_env=env) as backend:
                rows.append(_row("Redis on loopback", backend, source, profile))
    source.unlink()

    body = (
        f"{profile.pollers} concurrent pollers for {profile.polling_seconds:g} s, "
        "each on its own completed job (job store: SQLite). Latency in ms.\n\n"
        + table(HEADERS, rows)
    )
    return body


def _row(
    label: str, backend: RunningBackend, source: Path, profile: Profile
) -> list[str]:
    job_ids = _finished_jobs(backend, source, profile.pollers)
    latencies, errors, elapsed = asyncio.run(
        _poll_all(backend, job_ids, profile.polling_seconds)
    )
    summary = summarize(latencies)
    rate = len(latencies) / elapsed
    logger.info("Polling on %s: %.0f requests/s", label, rate)
    return [
        label,
        f"**{rate:.0f}**",
        millis_cell(summary.median),
        millis_cell(summary.p95),
        str(errors),
    ]


def _finished_jobs(backend: RunningBackend, source: Path, count: int) -> list[str]:
    """Create `count` jobs and wait until each one has ended."""
    with ApiClient(backend.url, backend.token) as api:
        ids = [api.create_job(source, TARGET.client_options).id for _ in range(count)]
        deadline = time.monotonic() + 60 + count
        for job_id in ids:
            while not api.get_progress(job_id).is_terminal:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Benchmark job {job_id} did not finish.")
                time.sleep(0.05)
    return ids


async def _poll_all(
    backend: RunningBackend, job_ids: list[str], seconds: float
) -> tuple[list[float], int, float]:
    """Poll every job from its own task; return latencies, errors and time."""
    limits = httpx.Limits(max_connections=len(job_ids))
    async with httpx.AsyncClient(
        base_url=backend.url + API_PREFIX,
        headers={"Authorization": f"Bearer {backend.token}"},
        limits=limits,
        timeout=REQUEST_TIMEOUT_SECONDS,
    ) as http:
        started = time.monotonic()
        deadline = started + seconds
        results = await asyncio.gather(
            *(_poll_one(http, job_id, deadline) for job_id in job_ids)
        )
        elapsed = time.monotonic() - started
    latencies = [latency for done, _ in results for latency in done]
    errors = sum(failed for _, failed in results)
    return latencies, errors, elapsed


async def _poll_one(
    http: httpx.AsyncClient, job_id: str, deadline: float
) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    while time.monotonic() < deadline:
        sent = time.monotonic()
        try:
            response = await http.get(f"/jobs/{job_id}/progress")
        except httpx.TransportError:
            errors += 1
            continue
        if response.status_code != 200:
            errors += 1
            continue
        latencies.append(time.monotonic() - sent)
    return latencies, errors
