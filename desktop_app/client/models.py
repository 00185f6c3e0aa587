"""Typed views of the API's JSON responses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TERMINAL_STAGES = frozenset({"completed", "failed", "cancelled"})
TERMINAL_STATUSES = TERMINAL_STAGES


@dataclass(frozen=True)
class ConversionOptions:
    """Conversion target; None keeps the source's value or the format default."""

    format: str
    bitrate_kbps: int | None = None
    quality: float | None = None
    sample_rate: int | None = None
    channels: int | None = None

    def form_fields(self) -> dict[str, str]:
        """Return the options as multipart form fields, leaving out unset ones."""
        fields = {"format": self.format}
        for name in ("bitrate_kbps", "quality", "sample_rate", "channels"):
            value = getattr(self, name)
            if value is not None:
                fields[name] = str(value)
        return fields


@dataclass(frozen=True)
class OutputInfo:
    filename: str
    size: int
    sha256: str
    duration_seconds: float


@dataclass(frozen=True)
class JobInfo:
    """A job as the server reports it."""

    id: str
    status: str
    filename: str
    input_size: int
    options: ConversionOptions
    adjustments: tuple[str, ...] = ()
    error_code: str | None = None
    error_message: str | None = None
    output: OutputInfo | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobInfo:
        output = data.get("output")
        return cls(
            id=data["id"],
            status=data["status"],
            filename=data["filename"],
            input_size=int(data["input_size"]),
            options=ConversionOptions(**data["options"]),
            adjustments=tuple(data.get("adjustments") or ()),
            error_code=data.get("error_code"),
            error_message=data.get("error_message"),
            output=OutputInfo(**output) if output else None,
        )


@dataclass(frozen=True)
class ProgressInfo:
    """One progress response; `progress` is a percentage, None when unknown."""

    progress: float | None
    stage: str
    eta_seconds: float | None = None
    speed: float | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProgressInfo:
        return cls(
            progress=None if data["progress"] is None else float(data["progress"]),
            stage=data["stage"],
            eta_seconds=data.get("eta_seconds"),
            speed=data.get("speed"),
        )

    @property
    def is_downloadable(self) -> bool:
        """True only once the server has committed the output.

        The server publishes `completed` after the job store commit, so this
        is the one condition under which the client offers a download.
        """
        return (
            self.progress is not None
            and self.progress >= 100
            and self.stage == "completed"
        )

    @property
    def is_terminal(self) -> bool:
        return self.stage in TERMINAL_STAGES


@dataclass(frozen=True)
class FormatInfo:
    """An output format the server offers."""

    name: str
    label: str
    extension: str
    lossless: bool
    default_bitrate_kbps: int | None
    bitrate_steps: tuple[int, ...] | None
    bitrate_range: tuple[int, int] | None
    quality_range: tuple[float, float] | None
    sample_rates: tuple[int, ...] | None = field(default=None)
    max_channels: int = 8

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FormatInfo:
        def as_tuple(value: Any) -> Any:
            return tuple(value) if value is not None else None

        return cls(
            name=data["name"],
            label=data["label"],
            extension=data["extension"],
            lossless=bool(data["lossless"]),
            default_bitrate_kbps=data.get("default_bitrate_kbps"),
            bitrate_steps=as_tuple(data.get("bitrate_steps")),
            bitrate_range=as_tuple(data.get("bitrate_range")),
            quality_range=as_tuple(data.get("quality_range")),
            sample_rates=as_tuple(data.get("sample_rates")),
            max_channels=int(data.get("max_channels", 8)),
        )
