"""Backend settings, read from AUDIO_CONVERTER_* environment variables."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    verify_tolerance_ratio: float = Field(default=0.005, gt=0)
    verify_tolerance_seconds: float = Field(default=0.05, gt=0)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Build the settings once, on first use rather than at import time."""
    return Settings()
