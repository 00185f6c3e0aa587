"""The race this product exists to prevent, run against a real server.

The job store is wrapped so that eventually consistent reads lag up to
500 ms behind each write and each write itself is slowed. A client polls
progress and downloads the moment it reads `stage == completed`, with no
retries. With the protocol as built, no such download may get 409. With the
protocol reordered (progress published before the commit), or with the
download path reading eventually consistently, the same check must fail, which
shows that the check can catch the bug.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from desktop_app.client.api import ApiClient
from desktop_app.client.errors import ApiError
from desktop_app.client.models import ConversionOptions
from tests.helpers.faults import LaggingJobStore, ReorderedJobService
from tests.helpers.plugin import ServerFactory, ToneFactory
from tests.helpers.server import LiveServer

# The check that matters runs over 500 jobs; the runs that show the check
# catching the bug need fewer jobs to see it.
JOBS = 500
BUGGY_JOBS = 200
POLLERS = 16
SERVER_WORKERS = 8
POLL_SECONDS = 0.005
JOB_TIMEOUT_SECONDS = 120.0


@dataclass
class RaceOutcome:
    downloads: int = 0
    not_completed: int = 0
    other_errors: int = 0


def _run_race(server: LiveServer, source: Path, jobs: int) -> RaceOutcome:
    """Run `jobs` jobs, each watched from its upload to its download.

    Each of POLLERS threads uploads a job, polls it and downloads the moment
    it reports completed, then starts the next, so no completion goes
    unwatched however loaded the machine is.
    """
    with server.client() as api:

        def follow_one() -> str:
            job_id = api.create_job(source, ConversionOptions("wav")).id
            deadline = time.monotonic() + JOB_TIMEOUT_SECONDS
            while time.monotonic() < deadline:
                try:
                    progress = api.get_progress(job_id)
                except ApiError as error:
                    # With every read lagging, a new job is not visible yet.
                    if error.status_code != 404:
                        raise
                    time.sleep(POLL_SECONDS)
                    continue
                if progress.is_downloadable:
                    return _download_once(api, job_id)
                if progress.stage in ("failed", "cancelled"):
                    return "other"
                time.sleep(POLL_SECONDS)
            return "timeout"

        def follow_many(count: int) -> list[str]:
            return [follow_one() for _ in range(count)]

        shares = [jobs // POLLERS + (i < jobs % POLLERS) for i in range(POLLERS)]
        with ThreadPoolExecutor(max_workers=POLLERS) as pool:
            results = [r for batch in pool.map(follow_many, shares) for r in batch]

    outcome = RaceOutcome()
    outcome.downloads = results.count("ok")
    outcome.not_completed = results.count("409")
    outcome.other_errors = len(results) - outcome.downloads - outcome.not_completed
    return outcome


def _download_once(api: ApiClient, job_id: str) -> str:
    try:
        with api.stream_output(job_id) as response:
            response.read()
    except ApiError as error:
        return "409" if error.status_code == 409 else "other"
    return "ok"


def _lagging(honour_consistent: bool = True) -> Any:
    """Make eventual reads lag 0 to 500 ms behind each write.

    Each write also takes 0 to 300 ms, which widens the gap that a reordered
    protocol leaves open.
    """

    def wrap(inner: Any) -> LaggingJobStore:
        return LaggingJobStore(
            inner, max_lag=0.5, write_delay=0.3, honour_consistent=honour_consistent
        )

    return wrap


@pytest.fixture
def source(tone: ToneFactory) -> Path:
    return tone("short.wav", seconds=0.2, rate=8_000, channels=1)


def test_no_409_after_completed(
    server_factory: ServerFactory,
    source: Path,
    store_set: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = server_factory(wrap_job_store=_lagging(), workers=SERVER_WORKERS)
    outcome = _run_race(server, source, JOBS)
    with capsys.disabled():
        print(
            f"\n[{store_set}] completion protocol as built: "
            f"{outcome.downloads} downloads, "
            f"{outcome.not_completed} answered 409, {outcome.other_errors} other"
        )
    assert outcome.not_completed == 0
    assert outcome.other_errors == 0
    assert outcome.downloads == JOBS


def test_reordered_protocol_is_caught(
    server_factory: ServerFactory,
    source: Path,
    store_set: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = server_factory(
        wrap_job_store=_lagging(),
        service_class=ReorderedJobService,
        workers=SERVER_WORKERS,
    )
    outcome = _run_race(server, source, BUGGY_JOBS)
    with capsys.disabled():
        print(
            f"\n[{store_set}] progress published before the commit: "
            f"{outcome.downloads} "
            f"downloads, {outcome.not_completed} answered 409"
        )
    assert outcome.not_completed > 0


def test_eventual_download_read_is_caught(
    server_factory: ServerFactory,
    source: Path,
    store_set: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = server_factory(
        wrap_job_store=_lagging(honour_consistent=False), workers=SERVER_WORKERS
    )
    outcome = _run_race(server, source, BUGGY_JOBS)
    with capsys.disabled():
        print(
            f"\n[{store_set}] eventually consistent download read: "
            f"{outcome.downloads} "
            f"downloads, {outcome.not_completed} answered 409"
        )
    assert outcome.not_completed > 0
