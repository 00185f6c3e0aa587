"""Thread pool in the server process: the embedded work dispatcher."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

logger = logging.getLogger(__name__)


class Dispatcher(Protocol):
    """Runs queued jobs somewhere; `submit` must not block on the conversion."""

    def submit(self, job_id: str) -> None:
        """Queue the job for conversion."""

    def shutdown(self) -> None:
        """Stop taking work and wait for running jobs to end."""


class ThreadPoolDispatcher:
    """Runs `run_job(job_id)` on a fixed number of threads in this process."""

    def __init__(self, run_job: Callable[[str], None], workers: int) -> None:
        self._run_job = run_job
        self._executor = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="conversion"
        )

    def submit(self, job_id: str) -> None:
        future = self._executor.submit(self._run_job, job_id)
        future.add_done_callback(_log_crash(job_id))

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


def _log_crash(job_id: str) -> Callable[[Future[None]], None]:
    def callback(future: Future[None]) -> None:
        if not future.cancelled() and (error := future.exception()) is not None:
            logger.error("Worker crashed on job %s", job_id, exc_info=error)

    return callback
