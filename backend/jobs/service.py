"""Job service: create, run, cancel and read jobs across the three stores.

The completion protocol lives in `_complete`: the verified output is stored,
the job store commits `running -> completed` with the output's key, size and
SHA-256, and only after that write succeeds is `progress=100, stage=completed`
published to the progress store. A client that saw that stage can therefore
always download, because the download route reads the job store directly.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, BinaryIO, TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_delay,
    stop_any,
    stop_when_event_set,
    wait_random_exponential,
)

from backend.conversion.converter import ConversionResult, Converter
from backend.conversion.formats import validate_options
from backend.conversion.progress import ENCODED_PERCENT, ConversionUpdate
from backend.errors import (
    ConversionCancelled,
    ConverterError,
    JobFailed,
    JobGone,
    JobNotCompleted,
    JobNotFound,
    ProgressUnavailable,
    StoreUnavailable,
    TransitionRejected,
)
from backend.jobs.model import (
    ConversionOptions,
    Job,
    JobOutput,
    JobStatus,
    Progress,
    Stage,
)
from backend.stores.base import BlobStore, JobChanges, JobStore, ProgressStore

logger = logging.getLogger(__name__)

T = TypeVar("T")

HASH_CHUNK_SIZE = 1024 * 1024
# File names are stored shortened to this many UTF-8 bytes.
MAX_FILENAME_BYTES = 200

_STAGE_FOR_STATUS = {
    JobStatus.QUEUED: Stage.QUEUED,
    JobStatus.RUNNING: Stage.CONVERTING,
    JobStatus.COMPLETED: Stage.COMPLETED,
    JobStatus.FAILED: Stage.FAILED,
    JobStatus.CANCELLED: Stage.CANCELLED,
}


# A running job without progress this young has not published its first.
JUST_STARTED_SECONDS = 5.0


class JobService:
    """Owns every job state change; routes and workers call only this."""

    def __init__(
        self,
        jobs: JobStore,
        progress: ProgressStore,
        blobs: BlobStore,
        converter: Converter,
        clock: Callable[[], float] = time.time,
        *,
        store_outage_seconds: float = 300.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.jobs = jobs
        self.progress = progress
        self.blobs = blobs
        self._converter = converter
        self._clock = clock
        self._dispatch: Callable[[str], None] | None = None
        self._cancel_events: dict[str, threading.Event] = {}
        self._cancel_lock = threading.Lock()
        self._stopping = threading.Event()
        self._timers: set[threading.Timer] = set()
        self._timers_lock = threading.Lock()
        self._outage_seconds = store_outage_seconds
        self._sleep = sleep
        self._progress_errors = _ErrorThrottle("Progress store unavailable")

    def attach_dispatcher(self, dispatch: Callable[[str], None]) -> None:
        """Set where new jobs are sent; called once at startup."""
        self._dispatch = dispatch

    # -- Requests from clients -------------------------------------------

    def create_job(
        self, owner: str, filename: str, source: BinaryIO, options: ConversionOptions
    ) -> Job:
        """Store the upload, record the job as queued and hand it to a worker."""
        validate_options(options)
        job_id = str(uuid.uuid4())
        clean_name = sanitize_filename(filename)
        input_key = f"inputs/{job_id}"
        size = self.blobs.write_stream(input_key, source)
        now = self._clock()
        job = Job(
            id=job_id,
            owner=owner,
            status=JobStatus.QUEUED,
            input_key=input_key,
            input_filename=clean_name,
            input_size=size,
            options=options,
            created_at=now,
            updated_at=now,
        )
        try:
            self.jobs.create(job)
        except StoreUnavailable:
            self._delete_blob(input_key)
            raise
        logger.info("Job %s created for %s (%d bytes)", job_id, clean_name, size)
        if self._dispatch is None:
            raise RuntimeError("No dispatcher attached to the job service")
        self._dispatch(job_id)
        return job

    def get_job(self, owner: str, job_id: str) -> Job:
        """Return the job with a strongly consistent read, or raise JobNotFound."""
        job = self.jobs.get(job_id, consistent=True)
        if job is None or job.owner != owner:
            raise JobNotFound(f"Job {job_id} was not found.")
        return job

    def get_progress(self, owner: str, job_id: str) -> Progress:
        """Return the latest progress, falling back to the job's status."""
        job = self.jobs.get(job_id, consistent=False)
        if job is None:
            # A lagging read may not show a job created moments ago yet.
            job = self.jobs.get(job_id, consistent=True)
        if job is None or job.owner != owner:
            raise JobNotFound(f"Job {job_id} was not found.")
        snapshot, store_answered = self._read_progress_status(job_id)
        if snapshot is not None and (
            snapshot.stage.is_terminal or not job.status.is_terminal
        ):
            return snapshot
        if job.status is JobStatus.QUEUED:
            return Progress(0.0, Stage.QUEUED, updated_at=job.updated_at)
        if (
            store_answered
            and job.status is JobStatus.RUNNING
            and self._clock() - job.updated_at < JUST_STARTED_SECONDS
        ):
            # The worker publishes its first progress just after the job
            # store marks the job running; a poll in between reads 0 %.
            return Progress(0.0, Stage.CONVERTING, updated_at=job.updated_at)
        # No snapshot, or one left behind by a lost final publish: the job
        # store is the source of truth. Only the stage is known from it.
        percent = 100.0 if job.status is JobStatus.COMPLETED else None
        return Progress(
            percent, _STAGE_FOR_STATUS[job.status], updated_at=job.updated_at
        )

    def get_completed_job(self, owner: str, job_id: str) -> Job:
        """Return the job if its output can be downloaded now.

        Reads the job store strongly consistently, never the progress store.
        Raises JobNotCompleted (retry later), JobGone, JobFailed or JobNotFound.
        """
        job = self.get_job(owner, job_id)
        if job.status is JobStatus.COMPLETED and job.output is not None:
            return job
        if job.status is JobStatus.CANCELLED:
            raise JobGone(f"Job {job_id} ({job.input_filename}) was cancelled.")
        if job.status is JobStatus.FAILED:
            raise JobFailed(job.error_message or f"Job {job_id} failed.")
        snapshot = self._read_progress(job_id)
        stage = snapshot.stage if snapshot else _STAGE_FOR_STATUS[job.status]
        raise JobNotCompleted(
            f"Conversion of {job.input_filename} is not completed yet.",
            status=job.status.value,
            stage=stage.value,
        )

    def cancel_job(self, owner: str, job_id: str) -> Job:
        """Cancel a queued or running job; a finished job is returned unchanged."""
        job = self.get_job(owner, job_id)
        for expected in (JobStatus.QUEUED, JobStatus.RUNNING):
            if job.status is not expected:
                continue
            try:
                job = self.jobs.transition(job_id, expected, JobStatus.CANCELLED)
            except TransitionRejected:
                job = self.get_job(owner, job_id)
                continue
            # The worker running the job, if any, publishes the stage: only
            # the owner of a job writes its progress.
            self._signal_cancel(job_id)
            self._delete_blob(job.input_key)
            logger.info("Job %s (%s) cancelled", job_id, job.input_filename)
            break
        return job

    # -- Work done by workers --------------------------------------------

    def run_job(self, job_id: str) -> None:
        """Convert one queued job to the end; every path ends in a final status."""
        if self._stopping.is_set():
            return
        # Registered first, so a cancel that lands during the transition is seen.
        cancel = self._register_cancel(job_id)
        try:
            job = self._transition(
                job_id,
                JobStatus.QUEUED,
                JobStatus.RUNNING,
                JobChanges(attempt=uuid.uuid4().hex),
            )
        except TransitionRejected as error:
            self._unregister_cancel(job_id)
            logger.info("Job %s not started: %s", job_id, error.message)
            return
        except StoreUnavailable as error:
            self._unregister_cancel(job_id)
            logger.error(
                "Job %s not started, retrying in %.0f s: %s",
                job_id, self._outage_seconds, error.message,
            )  # fmt: skip
            # Back through the dispatcher, so the worker limit still holds.
            if self._dispatch is not None:
                self._later(self._dispatch, job_id)
            return

        logger.info("Job %s started: %s", job_id, job.input_filename)
        self._publish(job_id, 0.0, Stage.CONVERTING)
        try:
            result = self._durably(self._convert, job, cancel)
            self._complete(job, result)
        except ConversionCancelled:
            if self._stopping.is_set():
                self._fail(
                    job,
                    "interrupted",
                    f"Conversion of {job.input_filename} was interrupted because "
                    "the server stopped; convert the file again.",
                )
            else:
                self._publish(job_id, 0.0, Stage.CANCELLED)
                logger.info("Job %s stopped after cancellation", job_id)
        except ConverterError as error:
            self._fail(job, error.code, error.message)
        except Exception:
            logger.exception("Job %s (%s) crashed", job_id, job.input_filename)
            self._fail(
                job,
                "internal_error",
                f"Conversion of {job.input_filename} failed because of an "
                "internal error; see the server log.",
            )
        finally:
            self._unregister_cancel(job_id)

    def stop_running_jobs(self) -> None:
        """Stop every conversion in this process; each job fails as interrupted.

        Called when the server shuts down, so no FFmpeg outlives it and no
        job is left running.
        """
        self._stopping.set()
        with self._timers_lock:
            timers, self._timers = list(self._timers), set()
        for timer in timers:
            timer.cancel()
        with self._cancel_lock:
            events = list(self._cancel_events.values())
        for event in events:
            event.set()

    def fail_interrupted_jobs(self) -> int:
        """Mark jobs left running by a previous server process as failed."""
        count = 0
        for job in self.jobs.list_by_status(JobStatus.RUNNING):
            self._fail(
                job,
                "interrupted",
                f"Conversion of {job.input_filename} was interrupted because "
                "the server stopped; convert the file again.",
            )
            count += 1
        return count

    def queued_job_ids(self) -> list[str]:
        """Return the ids of jobs waiting for a worker, oldest first."""
        queued = self.jobs.list_by_status(JobStatus.QUEUED)
        return [job.id for job in sorted(queued, key=lambda job: job.created_at)]

    def _convert(self, job: Job, cancel: threading.Event) -> ConversionResult:
        def on_update(update: ConversionUpdate) -> None:
            self._publish(
                job.id,
                update.percent,
                Stage.CONVERTING,
                eta=update.eta_seconds,
                speed=update.speed,
            )

        with self.blobs.local_path(job.input_key) as source:
            return self._converter.convert(
                source, job.input_filename, job.options,
                on_update=on_update, cancel=cancel,
            )  # fmt: skip

    def _complete(self, job: Job, result: ConversionResult) -> None:
        """Store the output, commit `completed`, then publish 100 %."""
        output = self._store_output(job, result)
        if self._commit_completed(job, output, result):
            # Published only after the commit above succeeded.
            self._publish(job.id, 100.0, Stage.COMPLETED)
            self._finish_completed(job, output)

    def _store_output(self, job: Job, result: ConversionResult) -> JobOutput:
        """Move the verified file into the blob store and describe it."""
        self._publish(job.id, ENCODED_PERCENT, Stage.FINALIZING)
        # One key per run, so a run whose commit is rejected deletes only its own.
        output_key = f"outputs/{job.id}/{job.attempt or 'output'}.{result.extension}"
        try:
            sha256 = file_sha256(result.path)
            size = self._durably(self.blobs.put_file, output_key, result.path)
        finally:
            result.path.unlink(missing_ok=True)
        return JobOutput(
            key=output_key,
            size=size,
            sha256=sha256,
            filename=output_filename(job.input_filename, result.extension),
            duration_seconds=result.output_duration_seconds,
        )

    def _commit_completed(
        self, job: Job, output: JobOutput, result: ConversionResult
    ) -> bool:
        """Move the job `running -> completed`; False if it was cancelled meanwhile."""
        changes = JobChanges(
            output=output,
            adjustments=result.adjustments,
            input_duration_seconds=result.input_duration_seconds,
            metadata=result.metadata,
        )
        try:
            self._transition(job.id, JobStatus.RUNNING, JobStatus.COMPLETED, changes)
        except TransitionRejected as error:
            logger.info("Job %s finished but not committed: %s", job.id, error.message)
            self._delete_blob(output.key)
            return False
        return True

    def _finish_completed(self, job: Job, output: JobOutput) -> None:
        self._delete_blob(job.input_key)
        logger.info(
            "Job %s completed: %s, %d bytes", job.id, output.filename, output.size
        )

    def _fail(self, job: Job, code: str, message: str) -> None:
        changes = JobChanges(error_code=code, error_message=message)
        try:
            self._transition(job.id, job.status, JobStatus.FAILED, changes)
        except TransitionRejected as error:
            logger.info("Job %s not marked failed: %s", job.id, error.message)
            return
        except StoreUnavailable as error:
            # Try again later, for as long as it takes: a job must never stay
            # running once its worker has given up on it.
            logger.error(
                "Job %s could not be marked failed (%s), retrying in %.0f s: %s",
                job.id, code, self._outage_seconds, error,
            )  # fmt: skip
            self._later(self._fail, job, code, message)
            return
        self._publish(job.id, 0.0, Stage.FAILED)
        self._delete_blob(job.input_key)
        logger.warning("Job %s failed (%s): %s", job.id, code, message)

    def _publish(
        self,
        job_id: str,
        percent: float,
        stage: Stage,
        *,
        eta: float | None = None,
        speed: float | None = None,
    ) -> None:
        snapshot = Progress(percent, stage, eta, speed, updated_at=self._clock())
        try:
            self.progress.publish(job_id, snapshot)
        except ProgressUnavailable as error:
            # Lossy by design: clients fall back to the job store.
            self._progress_errors.report(error)
        else:
            self._progress_errors.recovered()

    def _read_progress(self, job_id: str) -> Progress | None:
        return self._read_progress_status(job_id)[0]

    def _read_progress_status(self, job_id: str) -> tuple[Progress | None, bool]:
        """Return the snapshot and whether the progress store responded at all."""
        try:
            snapshot = self.progress.get(job_id)
        except ProgressUnavailable as error:
            self._progress_errors.report(error)
            return None, False
        self._progress_errors.recovered()
        return snapshot, True

    def _sleep_unless_stopping(self, seconds: float) -> None:
        if self._sleep is time.sleep:
            self._stopping.wait(seconds)
        else:
            self._sleep(seconds)

    def _later(self, call: Callable[..., object], *args: Any) -> None:
        """Run `call` again after the outage time, unless the server stops."""

        def fire() -> None:
            with self._timers_lock:
                self._timers.discard(timer)
            if not self._stopping.is_set():
                call(*args)

        timer = threading.Timer(self._outage_seconds, fire)
        timer.daemon = True
        with self._timers_lock:
            if self._stopping.is_set():
                return
            self._timers.add(timer)
        timer.start()

    def _delete_blob(self, key: str) -> None:
        """Delete a blob that is no longer needed; a failure only leaks storage."""
        try:
            self.blobs.delete(key)
        except StoreUnavailable as error:
            logger.warning("Could not delete blob %s: %s", key, error.message)

    def _transition(
        self,
        job_id: str,
        expected: JobStatus,
        new: JobStatus,
        changes: JobChanges | None = None,
    ) -> Job:
        """Make a status change, retrying while the job store is unavailable.

        A retry can find its own earlier write already applied when only the
        response to it was lost. That counts as success, not as a rejection.
        """
        try:
            return self._durably(self.jobs.transition, job_id, expected, new, changes)
        except TransitionRejected:
            current = self._durably(self.jobs.get, job_id)
            if current is not None and _already_applied(current, new, changes):
                logger.info("Job %s was already %s by this worker", job_id, new.value)
                return current
            raise

    def _durably(self, call: Callable[..., T], *args: Any) -> T:
        """Run a store call, retrying while the store is unavailable.

        Gives up after the configured outage time and raises StoreUnavailable.
        """
        retrying = Retrying(
            retry=retry_if_exception_type(StoreUnavailable),
            wait=wait_random_exponential(multiplier=0.5, max=5.0),
            # A stopping server gives up at once instead of waiting it out.
            stop=stop_any(
                stop_after_delay(self._outage_seconds),
                stop_when_event_set(self._stopping),
            ),
            before_sleep=_log_store_retry,
            sleep=self._sleep_unless_stopping,
            reraise=True,
        )
        return retrying(call, *args)

    def _register_cancel(self, job_id: str) -> threading.Event:
        with self._cancel_lock:
            event = self._cancel_events.setdefault(job_id, threading.Event())
        return event

    def _unregister_cancel(self, job_id: str) -> None:
        with self._cancel_lock:
            self._cancel_events.pop(job_id, None)

    def _signal_cancel(self, job_id: str) -> None:
        with self._cancel_lock:
            event = self._cancel_events.get(job_id)
        if event is not None:
            event.set()


def _already_applied(job: Job, new: JobStatus, changes: JobChanges | None) -> bool:
    """True when `job` already shows this very status change."""
    if job.status is not new or changes is None:
        return False
    if changes.attempt is not None:
        return job.attempt == changes.attempt
    if changes.output is not None:
        return job.output is not None and job.output.key == changes.output.key
    if changes.error_code is not None:
        return (job.error_code, job.error_message) == (
            changes.error_code,
            changes.error_message,
        )
    return False


class _ErrorThrottle:
    """Logs the first error of an outage, then one every minute, then recovery."""

    INTERVAL_SECONDS = 60.0

    def __init__(self, description: str) -> None:
        self._description = description
        self._lock = threading.Lock()
        self._failing_since: float | None = None
        self._last_logged = 0.0
        self._count = 0

    def report(self, error: Exception) -> None:
        now = time.monotonic()
        with self._lock:
            self._count += 1
            if self._failing_since is None:
                self._failing_since = now
            elif now - self._last_logged < self.INTERVAL_SECONDS:
                return
            self._last_logged = now
            count = self._count
        logger.warning("%s (%d errors so far): %s", self._description, count, error)

    def recovered(self) -> None:
        with self._lock:
            if self._failing_since is None:
                return
            self._failing_since = None
            count, self._count = self._count, 0
        logger.info("%s again reachable after %d errors", self._description, count)


def _log_store_retry(state: RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome else None
    logger.warning(
        "Store unavailable on attempt %d, retrying: %s", state.attempt_number, error
    )


def sanitize_filename(filename: str | None) -> str:
    """Return the upload's base name without path parts or control characters."""
    name = PureWindowsPath(PurePosixPath(filename or "").name).name
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    if name in ("", ".", ".."):
        return "upload"
    if len(name.encode()) <= MAX_FILENAME_BYTES:
        return name
    stem, suffix = os.path.splitext(name)
    budget = MAX_FILENAME_BYTES - len(suffix.encode())
    return stem.encode()[:budget].decode("utf-8", "ignore").rstrip() + suffix


def output_filename(input_filename: str, extension: str) -> str:
    """Return the input's stem with the target extension."""
    stem = Path(input_filename).stem or "converted"
    return f"{stem}.{extension}"


def file_sha256(path: Path) -> str:
    """Return the hex SHA-256 of the file at `path`, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()
