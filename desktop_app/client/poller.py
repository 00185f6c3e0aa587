"""Turn progress responses into job state changes, for the window and the CLI."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, replace

from desktop_app.client.api import ApiClient
from desktop_app.client.errors import ApiError, ClientError
from desktop_app.client.models import JobInfo, ProgressInfo

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobState:
    """Client-side state of one job."""

    job_id: str
    filename: str
    progress: float = 0.0
    stage: str = "queued"
    eta_seconds: float | None = None
    speed: float | None = None
    job: JobInfo | None = None
    error_message: str | None = None
    connection_problem: str | None = None

    @property
    def is_downloadable(self) -> bool:
        """True only at `progress >= 100 and stage == "completed"`."""
        return ProgressInfo(self.progress, self.stage).is_downloadable

    @property
    def is_terminal(self) -> bool:
        return self.stage in ("completed", "failed", "cancelled")


class Poller:
    """Polls the progress of active jobs and reports the ones that changed.

    Thread-safe: a worker thread may poll while another thread tracks jobs,
    but only one thread should call `poll` at a time.
    """

    def __init__(self, api: ApiClient) -> None:
        self._api = api
        self._states: dict[str, JobState] = {}
        self._lock = threading.Lock()

    def track(self, job: JobInfo) -> JobState:
        """Start following a job just created."""
        state = JobState(job_id=job.id, filename=job.filename, job=job)
        with self._lock:
            self._states[job.id] = state
        return state

    def forget(self, job_id: str) -> None:
        with self._lock:
            self._states.pop(job_id, None)

    def state(self, job_id: str) -> JobState:
        with self._lock:
            return self._states[job_id]

    @property
    def active_ids(self) -> list[str]:
        with self._lock:
            states = list(self._states.items())
        return [job_id for job_id, state in states if not state.is_terminal]

    def poll(self, job_ids: Iterable[str] | None = None) -> list[JobState]:
        """Poll each active job once; return the states that changed."""
        changed = []
        for job_id in list(job_ids if job_ids is not None else self.active_ids):
            with self._lock:
                old = self._states.get(job_id)
            if old is None or old.is_terminal:
                continue
            new = self._poll_one(old)
            with self._lock:
                if job_id not in self._states:
                    continue
                self._states[job_id] = new
            if new != old:
                changed.append(new)
        return changed

    def _poll_one(self, state: JobState) -> JobState:
        try:
            progress = self._api.get_progress(state.job_id)
            # A terminal stage is applied only with the job record beside it,
            # so a completed state always carries the output's size and hash.
            job = self._api.get_job(state.job_id) if progress.is_terminal else state.job
            state = replace(
                state,
                # While its progress store is down the server reports only the
                # stage, so the last percentage seen is kept until it is back.
                progress=state.progress
                if progress.progress is None
                else progress.progress,
                stage=progress.stage,
                eta_seconds=progress.eta_seconds,
                speed=progress.speed,
                job=job,
                error_message=_failure_text(job) if progress.is_terminal else None,
                connection_problem=None,
            )
        except ApiError as error:
            if error.status_code in (404, 410):
                logger.warning("Job %s (%s) vanished: %s", state.job_id,
                               state.filename, error.message)  # fmt: skip
                return replace(state, stage="failed", error_message=error.message)
            return replace(state, connection_problem=error.message)
        except ClientError as error:
            logger.info("Polling job %s failed: %s", state.job_id, error)
            return replace(state, connection_problem=str(error))
        return state


def _failure_text(job: JobInfo | None) -> str | None:
    if job is None:
        return None
    if job.status == "failed":
        return job.error_message or f"Conversion of {job.filename} failed."
    if job.status == "cancelled":
        return "Cancelled."
    return None
