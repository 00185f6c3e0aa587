"""Fault injectors that wrap real parts: lagging stores, a reordered protocol."""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict
from typing import Any

from backend.conversion.converter import ConversionResult
from backend.errors import ConversionCancelled
from backend.jobs.model import Job, JobStatus, Stage
from backend.jobs.service import JobService
from backend.stores.base import JobChanges, JobStore


class LaggingJobStore:
    """A job store whose eventually consistent reads lag behind its writes.

    After each write, reads with `consistent=False` keep returning the
    previous value for a random 0 to `max_lag` seconds, as a replica would.
    Each write also waits `write_delay` (random up to that many seconds)
    before it reaches the real store, which widens any ordering gap.
    With `honour_consistent=False` even `consistent=True` reads lag: that
    is the bug of reading with eventual consistency on the download path.
    """

    def __init__(
        self,
        inner: JobStore,
        *,
        max_lag: float = 0.5,
        write_delay: float = 0.0,
        honour_consistent: bool = True,
        seed: int = 1,
    ) -> None:
        self._inner = inner
        self._max_lag = max_lag
        self._write_delay = write_delay
        self._honour_consistent = honour_consistent
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._versions: dict[str, list[tuple[float, Job]]] = defaultdict(list)

    def create(self, job: Job) -> None:
        self._inner.create(job)
        self._remember(job)

    def get(self, job_id: str, *, consistent: bool = True) -> Job | None:
        if consistent and self._honour_consistent:
            return self._inner.get(job_id, consistent=True)
        now = time.monotonic()
        with self._lock:
            visible = [job for at, job in self._versions.get(job_id, []) if at <= now]
        return visible[-1] if visible else None

    def transition(
        self,
        job_id: str,
        expected: JobStatus,
        new: JobStatus,
        changes: JobChanges | None = None,
    ) -> Job:
        with self._lock:
            delay = self._random.uniform(0, self._write_delay)
        time.sleep(delay)
        job = self._inner.transition(job_id, expected, new, changes)
        self._remember(job)
        return job

    def list_by_status(self, status: JobStatus) -> list[Job]:
        return self._inner.list_by_status(status)

    def close(self) -> None:
        self._inner.close()

    def _remember(self, job: Job) -> None:
        with self._lock:
            visible_at = time.monotonic() + self._random.uniform(0, self._max_lag)
            self._versions[job.id].append((visible_at, job))


class ReorderedJobService(JobService):
    """The bug this product exists to prevent: 100 % is published first."""

    def _complete(self, job: Job, result: ConversionResult) -> None:
        output = self._store_output(job, result)
        self._publish(job.id, 100.0, Stage.COMPLETED)
        if self._commit_completed(job, output, result):
            self._finish_completed(job, output)


class GatedJobService(JobService):
    """Holds every conversion until `gate` is set, so tests see a running job."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gate = threading.Event()

    def _convert(self, job: Job, cancel: threading.Event) -> ConversionResult:
        while not self.gate.wait(0.02):
            if cancel.is_set():
                raise ConversionCancelled(
                    f"Conversion of {job.input_filename} was cancelled."
                )
        return super()._convert(job, cancel)
