"""Progress store in process memory: the embedded default."""

from __future__ import annotations

import threading

from backend.jobs.model import Progress


class MemoryProgressStore:
    """Keeps the latest snapshot per job in a dict guarded by a lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snapshots: dict[str, Progress] = {}

    def publish(self, job_id: str, progress: Progress) -> None:
        with self._lock:
            self._snapshots[job_id] = merge_progress(
                self._snapshots.get(job_id), progress
            )

    def get(self, job_id: str) -> Progress | None:
        with self._lock:
            return self._snapshots.get(job_id)

    def delete(self, job_id: str) -> None:
        with self._lock:
            self._snapshots.pop(job_id, None)

    def close(self) -> None:
        """Nothing to release."""


def merge_progress(current: Progress | None, update: Progress) -> Progress:
    """Return the snapshot to keep when `update` arrives after `current`.

    A terminal stage is final, and progress never goes down within a job.
    """
    if current is None:
        return update
    if current.stage.is_terminal:
        return current
    if (
        update.progress is not None
        and current.progress is not None
        and update.progress < current.progress
    ):
        return Progress(
            progress=current.progress,
            stage=update.stage,
            eta_seconds=update.eta_seconds,
            speed=update.speed,
            updated_at=update.updated_at,
        )
    return update
