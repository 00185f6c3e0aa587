"""Job store on SQLite in write-ahead-log mode: the embedded default."""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import threading
import time
from pathlib import Path

from backend.errors import TransitionRejected
from backend.jobs.model import (
    Job,
    JobStatus,
    check_transition,
    job_from_record,
    job_to_record,
)
from backend.stores.base import JobChanges

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    status TEXT NOT NULL,
    updated_at REAL NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status);
"""


class SqliteJobStore:
    """One SQLite file; every status change is an UPDATE ... WHERE status = ?."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Created private first: SQLite gives its -wal and -shm files the
        # database file's permissions.
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        self._lock = threading.Lock()
        self._connection = sqlite3.connect(
            path, check_same_thread=False, isolation_level=None, timeout=30
        )
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute("PRAGMA synchronous=NORMAL")
        self._connection.executescript(_SCHEMA)
        path.chmod(0o600)

    def create(self, job: Job) -> None:
        with self._lock:
            self._connection.execute(
                "INSERT INTO jobs (id, owner, status, updated_at, record) "
                "VALUES (?, ?, ?, ?, ?)",
                (job.id, job.owner, job.status.value, job.updated_at, _dump(job)),
            )

    def get(self, job_id: str, *, consistent: bool = True) -> Job | None:
        # One local database has no replicas, so every read is consistent.
        with self._lock:
            row = self._connection.execute(
                "SELECT record FROM jobs WHERE id = ?", (job_id,)
            ).fetchone()
        return None if row is None else job_from_record(json.loads(row[0]))

    def transition(
        self,
        job_id: str,
        expected: JobStatus,
        new: JobStatus,
        changes: JobChanges | None = None,
    ) -> Job:
        check_transition(expected, new)
        with self._lock:
            cursor = self._connection.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                row = cursor.execute(
                    "SELECT record FROM jobs WHERE id = ? AND status = ?",
                    (job_id, expected.value),
                ).fetchone()
                if row is None:
                    actual = cursor.execute(
                        "SELECT status FROM jobs WHERE id = ?", (job_id,)
                    ).fetchone()
                    raise TransitionRejected(
                        job_id, expected.value, actual[0] if actual else None
                    )
                job = apply_changes(job_from_record(json.loads(row[0])), new, changes)
                cursor.execute(
                    "UPDATE jobs SET status = ?, updated_at = ?, record = ? "
                    "WHERE id = ? AND status = ?",
                    (new.value, job.updated_at, _dump(job), job_id, expected.value),
                )
                cursor.execute("COMMIT")
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
        return job

    def list_by_status(self, status: JobStatus) -> list[Job]:
        with self._lock:
            rows = self._connection.execute(
                "SELECT record FROM jobs WHERE status = ?", (status.value,)
            ).fetchall()
        return [job_from_record(json.loads(row[0])) for row in rows]

    def close(self) -> None:
        with self._lock:
            self._connection.close()


def apply_changes(job: Job, new: JobStatus, changes: JobChanges | None) -> Job:
    """Return `job` in status `new` with the non-empty `changes` applied."""
    fields: dict[str, object] = {"status": new, "updated_at": time.time()}
    if changes is not None:
        for name, value in dataclasses.asdict(changes).items():
            if value is not None:
                fields[name] = getattr(changes, name)
    return dataclasses.replace(job, **fields)  # type: ignore[arg-type]


def _dump(job: Job) -> str:
    return json.dumps(job_to_record(job), ensure_ascii=False)
