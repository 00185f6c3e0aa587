"""Batch throughput: one CLI call converting several files, by worker count."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from backend.settings import Settings
from bench.audio import make_wav
from bench.profile import Profile
from bench.report import seconds_cell, table
from bench.servers import bundled_backend, isolated_env
from bench.stats import summarize
from bench.tools import TARGETS, cli_convert

logger = logging.getLogger(__name__)

TARGET = TARGETS[0]


def measure(profile: Profile, work: Path) -> str:
    sources = [
        make_wav(work / f"batch-{index}.wav", profile.batch_seconds, 300 + 40 * index)
        for index in range(profile.batch_files)
    ]
    default_workers = Settings(data_dir=work).workers
    counts = [1, default_workers] if default_workers != 1 else [1]
    env = isolated_env(work)
    out_dir = work / "out"
    times: dict[int, list[float]] = {count: [] for count in counts}
    for round_index in range(profile.batch_runs):
        order = counts if round_index % 2 == 0 else counts[::-1]
        for count in order:
            # A backend per run, started outside the timed part.
            with bundled_backend(work / f"batch-{count}", workers=count) as backend:
                out_dir.mkdir(parents=True, exist_ok=True)
                elapsed = cli_convert(sources, out_dir, TARGET, env, backend)
                times[count].append(elapsed)
                shutil.rmtree(out_dir)
            logger.info("Batch with %d workers: %.2f s", count, elapsed)
    for source in sources:
        source.unlink()

    serial = summarize(times[1])
    rows = []
    for count in counts:
        summary = summarize(times[count])
        speedup = serial.median / summary.median
        label = f"{count} (default)" if count == default_workers else str(count)
        rows.append([label, seconds_cell(summary), f"**{speedup:.2f}**"])
    minutes = profile.batch_seconds / 60
    body = (
        f"{profile.batch_files} files of {minutes:g} min each to {TARGET.label} "
        f"in one `audio-converter convert` call, {profile.batch_runs} runs per "
        f"worker count, on {os.cpu_count()} cores. Seconds as median "
        "(min-max); speed-up = median time with 1 worker / median time.\n\n"
        + table(["workers", "seconds", "speed-up"], rows)
    )
    return body
