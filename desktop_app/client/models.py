"""Typed views of the API's JSON responses."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

TERMINAL_STAGES = frozenset({"completed", "failed", "cancelled"})
TERMINAL_STATUSES = TERMINAL_STAGES


@dataclass(frozen=True)
class ConversionOptions:
    """Conversion target; None keeps the source's value or the format default.

    `bitrate_mode` is "cbr", "abr" or "vbr" (MP3 only). Loudness is in LUFS,
    the true-peak ceiling in dBTP, trims and fades in seconds.
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

    def form_fields(self) -> dict[str, str]:
        """Return the options as multipart form fields, leaving out unset ones."""
        fields = {"format": self.format}
        for option in dataclasses.fields(self):
            value = getattr(self, option.name)
            if option.name in ("format", "keep_metadata") or value is None:
                continue
            fields[option.name] = str(value)
        if not self.keep_metadata:
            fields["keep_metadata"] = "false"
        return fields

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ConversionOptions:
        """Build options from a server's JSON, ignoring fields it added later."""
        known = {option.name for option in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


@dataclass(frozen=True)
class OutputInfo:
    filename: str
    size: int
    sha256: str
    duration_seconds: float


@dataclass(frozen=True)
class MetadataReport:
    """Tags the output kept and dropped, and the picture's fate.

    `picture` is "kept" or "dropped", or None when the source had no picture.
    """

    kept: tuple[str, ...]
    dropped: tuple[str, ...]
    picture: str | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MetadataReport:
        return cls(
            kept=tuple(data.get("kept") or ()),
            dropped=tuple(data.get("dropped") or ()),
            picture=data.get("picture"),
        )


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
    metadata: MetadataReport | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobInfo:
        output = data.get("output")
        metadata = data.get("metadata")
        return cls(
            id=data["id"],
            status=data["status"],
            filename=data["filename"],
            input_size=int(data["input_size"]),
            options=ConversionOptions.from_json(data["options"]),
            adjustments=tuple(data.get("adjustments") or ()),
            error_code=data.get("error_code"),
            error_message=data.get("error_message"),
            output=OutputInfo(**output) if output else None,
            metadata=MetadataReport.from_json(metadata) if metadata else None,
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
    bitrate_modes: tuple[str, ...] | None = None
    compression_levels: tuple[int, int] | None = None
    bit_depths: tuple[int, ...] | None = None
    holds_tags: bool = True
    # The only tags the container stores, or None when it takes any tag.
    tag_names: tuple[str, ...] | None = None
    holds_cover: bool = False

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
            bitrate_modes=as_tuple(data.get("bitrate_modes")),
            compression_levels=as_tuple(data.get("compression_levels")),
            bit_depths=as_tuple(data.get("bit_depths")),
            holds_tags=bool(data.get("holds_tags", True)),
            tag_names=as_tuple(data.get("tag_names")),
            holds_cover=bool(data.get("holds_cover", False)),
        )
