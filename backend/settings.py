"""Backend settings, read from AUDIO_CONVERTER_* environment variables."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_FILE_ENV = "AUDIO_CONVERTER_CONFIG"


def default_data_dir() -> Path:
    """Return the per-user data folder used when none is configured."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "audio-converter" / "backend"


class Settings(BaseSettings):
    """Everything the backend reads from its environment or command line."""

    model_config = SettingsConfigDict(env_prefix="AUDIO_CONVERTER_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir)
    token: str | None = Field(
        default=None,
        description="Bearer token every request except health must carry; "
        "no token means the API is open (only for a trusted network).",
    )
    extra_tokens: list[str] = Field(
        default_factory=list,
        description="More accepted tokens, one per user or team; each sees only "
        "its own jobs. A JSON list in the environment.",
    )
    owner_scope: Literal["token", "server"] = Field(
        default="token",
        description="Whom a job belongs to: the token that created it, or the "
        "whole server (the app's own backend, whose token changes per launch).",
    )
    workers: int = Field(
        default_factory=lambda: os.cpu_count() or 2,
        ge=1,
        le=64,
        description="Conversions that run at the same time.",
    )
    ffmpeg_path: Path | None = Field(
        default=None,
        description="FFmpeg binary to use instead of the one from imageio-ffmpeg.",
    )
    retry_after_seconds: int = Field(
        default=1, ge=1, description="Retry-After sent with 409 not_completed."
    )
    store_retry_after_seconds: int = Field(
        default=5, ge=1, description="Retry-After sent with 503 when a store is down."
    )
    verify_tolerance_ratio: float = Field(default=0.005, gt=0)
    verify_tolerance_seconds: float = Field(default=0.05, gt=0)

    # Limits on what one job may take.
    max_upload_bytes: int = Field(
        default=4 * 1024**3, ge=1, description="Largest upload accepted, in bytes."
    )
    max_duration_seconds: float = Field(
        default=24 * 3600.0,
        gt=0,
        description="Maximum input length accepted, in seconds.",
    )
    conversion_timeout_seconds: float = Field(
        default=3 * 3600.0,
        gt=0,
        description="A conversion still running after this long is stopped.",
    )
    allowed_hosts: list[str] | None = Field(
        default=None,
        description="Host header values the server accepts; None accepts any. "
        "Set automatically when serving on a loopback address.",
    )

    # Stores: each one embedded or on a shared service, chosen independently.
    job_store: Literal["sqlite", "dynamodb"] = "sqlite"
    progress_store: Literal["memory", "redis"] = "memory"
    blob_store: Literal["local", "s3"] = "local"

    aws_region: str = Field(default="us-east-1", description="AWS region.")
    dynamodb_table: str = "audio-converter-jobs"
    dynamodb_endpoint_url: str | None = Field(
        default=None, description="DynamoDB-compatible endpoint instead of AWS's."
    )
    s3_bucket: str = "audio-converter"
    s3_prefix: str = Field(default="", description="Key prefix inside the bucket.")
    s3_endpoint_url: str | None = Field(
        default=None, description="S3-compatible endpoint instead of AWS's."
    )
    aws_max_attempts: int = Field(
        default=5, ge=1, description="Attempts per AWS call (standard retry mode)."
    )
    redis_url: str = "redis://127.0.0.1:6379/0"
    job_ttl_seconds: int = Field(
        default=7 * 24 * 3600,
        ge=60,
        description="How long job records, progress and files are kept.",
    )
    store_outage_seconds: float = Field(
        default=300.0,
        gt=0,
        description="How long a worker keeps retrying a store that is down "
        "before it gives up on the job.",
    )

    def accepted_tokens(self) -> list[str]:
        """Return every token a request may carry; empty means no check."""
        tokens = [self.token] if self.token else []
        return tokens + [token for token in self.extra_tokens if token]

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Read arguments, then the environment, then the TOML config file."""
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get(CONFIG_FILE_ENV)
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, Path(config_file)))
        return tuple(sources)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Build the settings once, on first use rather than at import time."""
    return Settings()
