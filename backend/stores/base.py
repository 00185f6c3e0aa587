"""Interfaces of the three stores the job service depends on.

Each has an embedded adapter for one machine; service adapters for a shared
deployment implement the same methods.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from backend.jobs.model import Job, JobOutput, JobStatus, MetadataReport, Progress


@dataclass(frozen=True)
class JobChanges:
    """Fields a status transition writes along with the new status."""

    output: JobOutput | None = None
    error_code: str | None = None
    error_message: str | None = None
    adjustments: tuple[str, ...] | None = None
    input_duration_seconds: float | None = None
    metadata: MetadataReport | None = None
    # Identifies one worker's run of the job, set by `queued -> running`.
    attempt: str | None = None


class JobStore(Protocol):
    """Durable job records; the source of truth for status and output."""

    def create(self, job: Job) -> None:
        """Insert a new job; its id must not exist yet."""

    def get(self, job_id: str, *, consistent: bool = True) -> Job | None:
        """Return the job or None.

        `consistent=True` must see every write that finished before the call.
        A store may serve `consistent=False` reads from a lagging replica.
        """

    def transition(
        self,
        job_id: str,
        expected: JobStatus,
        new: JobStatus,
        changes: JobChanges | None = None,
    ) -> Job:
        """Move the job from `expected` to `new` in one conditional write.

        Raises TransitionRejected when the job is missing or is not in
        `expected`, so a late or repeated event never moves a finished job.
        """

    def list_by_status(self, status: JobStatus) -> list[Job]:
        """Return every job in `status`."""

    def close(self) -> None:
        """Release connections."""


class ProgressStore(Protocol):
    """Fast, lossy progress snapshots for polling clients.

    Every method may raise ProgressUnavailable; callers fall back to the job
    store, which stays the source of truth.
    """

    def publish(self, job_id: str, progress: Progress) -> None:
        """Store a snapshot.

        Progress never moves backwards while converting, and a terminal stage
        is never replaced by a later non-terminal snapshot.
        """

    def get(self, job_id: str) -> Progress | None:
        """Return the latest snapshot, or None when the store has none."""

    def delete(self, job_id: str) -> None:
        """Forget the job's snapshot."""

    def close(self) -> None:
        """Release connections."""


class BlobStore(Protocol):
    """Opaque bytes under keys: uploaded inputs and verified outputs."""

    def write_stream(self, key: str, source: BinaryIO) -> int:
        """Copy `source` to `key` in chunks; return the size in bytes."""

    def put_file(self, key: str, path: Path) -> int:
        """Move the local file at `path` to `key`; return the size in bytes."""

    def size(self, key: str) -> int:
        """Return the size of `key`; raise FileNotFoundError when it is absent."""

    def iter_range(
        self, key: str, start: int = 0, end: int | None = None
    ) -> Iterator[bytes]:
        """Yield the bytes of `key` from `start` up to and including `end`."""

    def local_path(self, key: str) -> AbstractContextManager[Path]:
        """Give FFmpeg a local file holding `key` for the length of the block."""

    def delete(self, key: str) -> None:
        """Remove `key`; a missing key is not an error."""

    def close(self) -> None:
        """Release connections."""
