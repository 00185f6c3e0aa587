from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.errors import TransitionRejected
from backend.jobs.model import (
    ConversionOptions,
    Job,
    JobOutput,
    JobStatus,
    MetadataReport,
    job_from_record,
    job_to_record,
)
from backend.settings import Settings
from backend.stores.aws import aws_client
from backend.stores.base import JobChanges, JobStore
from backend.stores.dynamodb_jobs import DynamoJobStore, create_table
from backend.stores.sqlite_jobs import SqliteJobStore
from tests.helpers.services import MotoServer


def _job(job_id: str = "job-1") -> Job:
    return Job(
        id=job_id,
        owner="owner",
        status=JobStatus.QUEUED,
        input_key=f"inputs/{job_id}",
        input_filename="Ünïcode song.flac",
        input_size=123,
        options=ConversionOptions(format="mp3", bitrate_kbps=192),
        created_at=1.0,
        updated_at=1.0,
    )


@pytest.fixture(params=["sqlite", "dynamodb"])
def store(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[JobStore]:
    """Each test runs on SQLite and on DynamoDB (moto's server)."""
    if request.param == "sqlite":
        sqlite = SqliteJobStore(tmp_path / "jobs.sqlite3")
        yield sqlite
        sqlite.close()
        return
    moto: MotoServer = request.getfixturevalue("moto_server")
    settings = Settings(
        dynamodb_endpoint_url=moto.url,
        dynamodb_table=f"jobs-{uuid.uuid4().hex[:10]}",
        data_dir=tmp_path,
    )
    create_table(aws_client("dynamodb", settings, moto.url), settings.dynamodb_table)
    dynamo = DynamoJobStore(settings)
    yield dynamo
    dynamo.close()


def test_created_job_reads_back(store: JobStore) -> None:
    store.create(_job())
    assert store.get("job-1") == _job()


def test_options_and_metadata_read_back(store: JobStore) -> None:
    options = ConversionOptions(
        format="flac",
        compression_level=8,
        bit_depth=24,
        loudness_lufs=-16.5,
        true_peak_db=-1.0,
        trim_start_seconds=0.25,
        fade_out_seconds=2.0,
        keep_metadata=False,
    )
    store.create(dataclasses.replace(_job(), options=options))
    store.transition("job-1", JobStatus.QUEUED, JobStatus.RUNNING)
    report = MetadataReport(kept=("title",), dropped=("mood",), picture="dropped")
    store.transition(
        "job-1", JobStatus.RUNNING, JobStatus.FAILED, JobChanges(metadata=report)
    )
    job = store.get("job-1")
    assert job is not None
    assert job.options == options
    assert job.metadata == report


def test_missing_job_is_none(store: JobStore) -> None:
    assert store.get("nope") is None


def test_transition_records_output(store: JobStore) -> None:
    store.create(_job())
    store.transition("job-1", JobStatus.QUEUED, JobStatus.RUNNING)
    output = JobOutput("outputs/job-1.mp3", 10, "ab" * 32, "song.mp3", 1.5)
    done = store.transition(
        "job-1", JobStatus.RUNNING, JobStatus.COMPLETED, JobChanges(output=output)
    )
    assert done.status is JobStatus.COMPLETED
    stored = store.get("job-1")
    assert stored is not None
    assert stored.output == output


def test_late_event_cannot_reopen_job(store: JobStore) -> None:
    store.create(_job())
    store.transition("job-1", JobStatus.QUEUED, JobStatus.CANCELLED)
    with pytest.raises(TransitionRejected) as caught:
        store.transition("job-1", JobStatus.QUEUED, JobStatus.RUNNING)
    assert caught.value.actual == "cancelled"
    stored = store.get("job-1")
    assert stored is not None
    assert stored.status is JobStatus.CANCELLED


def test_duplicate_completion_is_rejected(store: JobStore) -> None:
    store.create(_job())
    store.transition("job-1", JobStatus.QUEUED, JobStatus.RUNNING)
    store.transition("job-1", JobStatus.RUNNING, JobStatus.FAILED)
    with pytest.raises(TransitionRejected):
        store.transition("job-1", JobStatus.RUNNING, JobStatus.COMPLETED)


def test_missing_job_transition_is_rejected(store: JobStore) -> None:
    with pytest.raises(TransitionRejected) as caught:
        store.transition("ghost", JobStatus.QUEUED, JobStatus.RUNNING)
    assert caught.value.actual is None


def test_undefined_transition_is_a_bug(store: JobStore) -> None:
    store.create(_job())
    with pytest.raises(ValueError, match="not a transition"):
        store.transition("job-1", JobStatus.QUEUED, JobStatus.COMPLETED)


def test_concurrent_transitions_have_one_winner(store: JobStore) -> None:
    store.create(_job())
    winners: list[JobStatus] = []
    barrier = threading.Barrier(8)

    def attempt(target: JobStatus) -> None:
        barrier.wait()
        try:
            store.transition("job-1", JobStatus.QUEUED, target)
        except TransitionRejected:
            return
        winners.append(target)

    targets = [JobStatus.RUNNING, JobStatus.CANCELLED] * 4
    threads = [threading.Thread(target=attempt, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(winners) == 1


def test_list_by_status(store: JobStore) -> None:
    store.create(_job("a"))
    store.create(_job("b"))
    store.transition("b", JobStatus.QUEUED, JobStatus.RUNNING)
    assert [job.id for job in store.list_by_status(JobStatus.RUNNING)] == ["b"]


def test_database_file_is_private(tmp_path: Path) -> None:
    SqliteJobStore(tmp_path / "private.sqlite3")
    assert (tmp_path / "private.sqlite3").stat().st_mode & 0o077 == 0


def test_record_without_new_fields_loads() -> None:
    record = job_to_record(_job())
    for name in ("bitrate_mode", "keep_metadata", "loudness_lufs"):
        del record["options"][name]
    del record["metadata"]
    job = job_from_record(record)
    assert job.options.keep_metadata is True
    assert job.options.loudness_lufs is None
    assert job.metadata is None
