"""Sizes and repetition counts of the full run and of the quick smoke check."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    """How much audio each measurement converts and how often."""

    name: str
    overhead_seconds: float
    overhead_runs: int
    # How many of the target formats (MP3, FLAC, Opus, in that order) to time.
    overhead_formats: int
    memory_minutes: tuple[float, ...]
    batch_files: int
    batch_seconds: float
    batch_runs: int
    latency_jobs: int
    latency_seconds: float
    polling_seconds: float
    pollers: int
    gui_megabytes: int
    gui_jobs: int


FULL = Profile(
    name="full",
    overhead_seconds=600.0,
    overhead_runs=5,
    overhead_formats=3,
    memory_minutes=(10.0, 60.0, 120.0),
    batch_files=8,
    batch_seconds=180.0,
    batch_runs=3,
    latency_jobs=50,
    latency_seconds=3.0,
    polling_seconds=10.0,
    pollers=50,
    gui_megabytes=500,
    gui_jobs=20,
)

QUICK = Profile(
    name="quick",
    overhead_seconds=3.0,
    overhead_runs=1,
    overhead_formats=1,
    memory_minutes=(0.05, 0.1),
    batch_files=2,
    batch_seconds=2.0,
    batch_runs=1,
    latency_jobs=2,
    latency_seconds=1.0,
    polling_seconds=0.5,
    pollers=5,
    gui_megabytes=4,
    gui_jobs=3,
)
