"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from pydantic import BaseModel, Field

from backend.conversion.formats import OutputFormat
from backend.jobs.model import Job, JobStatus, Progress, Stage


class ErrorBody(BaseModel):
    """Every error response: a stable code and a plain sentence."""

    code: str
    message: str


class NotCompletedBody(ErrorBody):
    """409 body while a job's output is not ready; retry after `Retry-After`."""

    status: JobStatus
    stage: Stage


class OptionsBody(BaseModel):
    format: str
    bitrate_kbps: int | None = None
    quality: float | None = None
    sample_rate: int | None = None
    channels: int | None = None


class OutputBody(BaseModel):
    filename: str
    size: int
    sha256: str
    duration_seconds: float


class JobBody(BaseModel):
    """A job as clients see it."""

    id: str
    status: JobStatus
    filename: str
    input_size: int
    options: OptionsBody
    created_at: float
    updated_at: float
    adjustments: list[str] = Field(
        description="Sentences naming each option that was changed to one the "
        "encoder accepts."
    )
    error_code: str | None = None
    error_message: str | None = None
    output: OutputBody | None = None

    @classmethod
    def from_job(cls, job: Job) -> JobBody:
        output = None
        if job.output is not None:
            output = OutputBody(
                filename=job.output.filename,
                size=job.output.size,
                sha256=job.output.sha256,
                duration_seconds=job.output.duration_seconds,
            )
        return cls(
            id=job.id,
            status=job.status,
            filename=job.input_filename,
            input_size=job.input_size,
            options=OptionsBody(**job.options.to_dict()),
            created_at=job.created_at,
            updated_at=job.updated_at,
            adjustments=list(job.adjustments),
            error_code=job.error_code,
            error_message=job.error_message,
            output=output,
        )


class ProgressBody(BaseModel):
    """Progress of one job; `progress` is a percentage from 0 to 100."""

    progress: float | None = Field(
        ge=0,
        le=100,
        description="Percent done; null while only the stage is known.",
    )
    stage: Stage
    eta_seconds: float | None = Field(
        default=None, description="Estimated seconds until the output is ready."
    )
    speed: float | None = Field(
        default=None, description="Conversion speed as a multiple of real time."
    )

    @classmethod
    def from_progress(cls, progress: Progress) -> ProgressBody:
        return cls(
            progress=None if progress.progress is None else round(progress.progress, 2),
            stage=progress.stage,
            eta_seconds=progress.eta_seconds,
            speed=progress.speed,
        )


class FormatBody(BaseModel):
    """One output format and the options it takes."""

    name: str
    label: str
    extension: str
    lossless: bool
    default_bitrate_kbps: int | None
    bitrate_range: tuple[int, int] | None
    bitrate_steps: list[int] | None
    quality_range: tuple[float, float] | None
    sample_rates: list[int] | None
    max_channels: int

    @classmethod
    def from_format(cls, fmt: OutputFormat) -> FormatBody:
        return cls(
            name=fmt.name,
            label=fmt.label,
            extension=fmt.extension,
            lossless=fmt.lossless,
            default_bitrate_kbps=fmt.default_bitrate_kbps,
            bitrate_range=fmt.bitrate_range,
            bitrate_steps=list(fmt.bitrate_steps) if fmt.bitrate_steps else None,
            quality_range=fmt.quality_range,
            sample_rates=list(fmt.sample_rates) if fmt.sample_rates else None,
            max_channels=fmt.max_channels,
        )


class HealthBody(BaseModel):
    status: str
    version: str
