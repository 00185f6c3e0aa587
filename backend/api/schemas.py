"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from backend.conversion.formats import OutputFormat
from backend.jobs.model import Job, JobStatus, MetadataReport, Progress, Stage


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


PictureFate = Literal["kept", "dropped"]
_PICTURE_FATES: dict[str, PictureFate] = {"kept": "kept", "dropped": "dropped"}


class MetadataBody(BaseModel):
    """The fate of the source's tags and picture in the output."""

    kept: list[str] = Field(description="Tag names the output contains.")
    dropped: list[str] = Field(description="Tag names the output lacks.")
    picture: PictureFate | None = Field(
        description="The embedded picture's fate, or null when the source had none."
    )

    @classmethod
    def from_report(cls, report: MetadataReport) -> MetadataBody:
        return cls(
            kept=list(report.kept),
            dropped=list(report.dropped),
            picture=_PICTURE_FATES.get(report.picture or ""),
        )


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
    metadata: MetadataBody | None = Field(
        default=None,
        description="Tags and picture kept or dropped, or null until completed.",
    )

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
            metadata=(
                None if job.metadata is None else MetadataBody.from_report(job.metadata)
            ),
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
    bitrate_modes: list[str] | None = Field(
        description="Bitrate modes the encoder offers (cbr, abr, vbr), or null."
    )
    compression_levels: tuple[int, int] | None = Field(
        description="Lowest and highest compression level, or null."
    )
    bit_depths: list[int] | None = Field(
        description="Integer bit depths the output can be stored in, or null."
    )
    holds_tags: bool = Field(description="Whether the output can contain tags.")
    tag_names: list[str] | None = Field(
        description="The only tags the container stores, or null when it takes any."
    )
    holds_cover: bool = Field(
        description="Whether the output can contain a cover picture."
    )

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
            bitrate_modes=list(fmt.bitrate_modes) if fmt.bitrate_modes else None,
            compression_levels=fmt.compression_levels,
            bit_depths=list(fmt.bit_depths) if fmt.bit_depths else None,
            holds_tags=fmt.holds_tags,
            tag_names=list(fmt.tag_names) if fmt.tag_names else None,
            holds_cover=fmt.holds_cover,
        )


class HealthBody(BaseModel):
    status: str
    version: str
