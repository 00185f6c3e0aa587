"""The job record, its statuses and the stages the progress store reports."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class JobStatus(StrEnum):
    """Status kept in the job store; the source of truth for downloads."""

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset(
    {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED}
)

# The only moves a conditional write accepts, keyed by the status it expects.
ALLOWED_TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: frozenset(
        {JobStatus.RUNNING, JobStatus.CANCELLED, JobStatus.FAILED}
    ),
    JobStatus.RUNNING: frozenset(
        {JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED}
    ),
    JobStatus.COMPLETED: frozenset(),
    JobStatus.FAILED: frozenset(),
    JobStatus.CANCELLED: frozenset(),
}


def check_transition(expected: JobStatus, new: JobStatus) -> None:
    """Raise ValueError for a status change the state machine does not have."""
    if new not in ALLOWED_TRANSITIONS[expected]:
        raise ValueError(f"{expected.value} -> {new.value} is not a transition")


class Stage(StrEnum):
    """Stage kept in the progress store; drives the client's progress display."""

    QUEUED = "queued"
    CONVERTING = "converting"
    FINALIZING = "finalizing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in (Stage.COMPLETED, Stage.FAILED, Stage.CANCELLED)


@dataclass(frozen=True)
class ConversionOptions:
    """Options the user requested; None means "keep the source's value".

    Times are in seconds: `trim_start_seconds` and `trim_end_seconds` are cut
    from the start and the end, and the fades apply to the trimmed audio.
    `loudness_lufs` turns on EBU R128 normalisation to that integrated
    loudness, with `true_peak_db` (dBTP) as the peak ceiling.
    """

    format: str
    bitrate_kbps: int | None = None
    quality: float | None = None
    sample_rate: int | None = None
    channels: int | None = None
    bitrate_mode: str | None = None
    compression_level: int | None = None
    bit_depth: int | None = None
    loudness_lufs: float | None = None
    true_peak_db: float | None = None
    trim_start_seconds: float | None = None
    trim_end_seconds: float | None = None
    fade_in_seconds: float | None = None
    fade_out_seconds: float | None = None
    keep_metadata: bool = True

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConversionOptions:
        # Records written before a field existed lack it and get its default.
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


@dataclass(frozen=True)
class MetadataReport:
    """The source tags the output kept and dropped, and its picture's fate.

    `picture` is "kept" or "dropped", or None when the source had no picture.
    """

    kept: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()
    picture: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kept": list(self.kept),
            "dropped": list(self.dropped),
            "picture": self.picture,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MetadataReport:
        return cls(
            kept=tuple(data.get("kept") or ()),
            dropped=tuple(data.get("dropped") or ()),
            picture=data.get("picture"),
        )


@dataclass(frozen=True)
class JobOutput:
    """The verified output recorded by the commit to `completed`."""

    key: str
    size: int
    sha256: str
    filename: str
    duration_seconds: float


@dataclass(frozen=True)
class Job:
    """One conversion of one uploaded file."""

    id: str
    owner: str
    status: JobStatus
    input_key: str
    input_filename: str
    input_size: int
    options: ConversionOptions
    created_at: float
    updated_at: float
    adjustments: tuple[str, ...] = ()
    error_code: str | None = None
    error_message: str | None = None
    output: JobOutput | None = None
    input_duration_seconds: float | None = None
    attempt: str | None = None
    metadata: MetadataReport | None = None


@dataclass(frozen=True)
class Progress:
    """A progress snapshot: percent done, stage, seconds left, speed vs real time.

    `progress` is None only in a snapshot built from the job store while the
    progress store is unavailable: the stage is known, the percentage is not.
    """

    progress: float | None
    stage: Stage
    eta_seconds: float | None = None
    speed: float | None = None
    updated_at: float = field(default=0.0)


def job_to_record(job: Job) -> dict[str, Any]:
    """Return the job as plain JSON-ready data for a store."""
    record = dataclasses.asdict(job)
    record["status"] = job.status.value
    record["adjustments"] = list(job.adjustments)
    record["metadata"] = None if job.metadata is None else job.metadata.to_dict()
    return record


def job_from_record(record: dict[str, Any]) -> Job:
    """Rebuild a job from `job_to_record` data."""
    output = record.get("output")
    metadata = record.get("metadata")
    return Job(
        id=record["id"],
        owner=record["owner"],
        status=JobStatus(record["status"]),
        input_key=record["input_key"],
        input_filename=record["input_filename"],
        input_size=int(record["input_size"]),
        options=ConversionOptions.from_dict(record["options"]),
        created_at=float(record["created_at"]),
        updated_at=float(record["updated_at"]),
        adjustments=tuple(record.get("adjustments") or ()),
        error_code=record.get("error_code"),
        error_message=record.get("error_message"),
        output=JobOutput(**output) if output else None,
        input_duration_seconds=record.get("input_duration_seconds"),
        attempt=record.get("attempt"),
        metadata=MetadataReport.from_dict(metadata) if metadata else None,
    )
