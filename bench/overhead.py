"""Conversion overhead: the product end to end against bare FFmpeg and others.

Each round converts the same file with every tool, in forward order on even
rounds and reverse order on odd ones, so that a slow patch of the machine
hits all tools alike. A tool's ratio is its time over bare FFmpeg's time in
the same round; the table shows the median ratio and its range.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path

from bench.audio import make_wav
from bench.breakdown import measure_stages
from bench.profile import Profile
from bench.report import ratio_cell, seconds_cell, table
from bench.servers import bundled_backend, isolated_env
from bench.stats import summarize
from bench.tools import (
    TARGETS,
    Target,
    bare_ffmpeg,
    cli_convert,
    pydub_export,
    soundconverter_available,
    soundconverter_batch,
)

logger = logging.getLogger(__name__)

BARE = "bare `ffmpeg`"
STEADY = "CLI, backend already running (`--server`)"
COLD = "CLI, starting its own backend"
PYDUB = "pydub `AudioSegment.export`"
SOUNDCONVERTER = "SoundConverter `-b`"


def measure(profile: Profile, work: Path) -> str:
    """Time every tool on one generated file per target format."""
    source = make_wav(work / "overhead.wav", profile.overhead_seconds)
    env = isolated_env(work)
    out_dir = work / "out"
    rows: list[list[str]] = []
    with bundled_backend(work / "steady") as backend:
        tools: dict[str, Callable[[Target], float]] = {
            BARE: lambda target: bare_ffmpeg(source, out_dir, target),
            STEADY: lambda target: cli_convert([source], out_dir, target, env, backend),
            COLD: lambda target: cli_convert([source], out_dir, target, env),
            PYDUB: lambda target: pydub_export(source, out_dir, target),
        }
        if soundconverter_available():
            tools[SOUNDCONVERTER] = lambda target: soundconverter_batch(
                source, out_dir, target
            )
        for target in TARGETS[: profile.overhead_formats]:
            rows += _measure_target(target, tools, out_dir, profile.overhead_runs)
    if not soundconverter_available():
        rows.append([SOUNDCONVERTER, "all", "not installed", "", ""])
    stages = measure_stages(source, work, TARGETS[: profile.overhead_formats])
    size_mb = source.stat().st_size / 1e6
    source.unlink()

    minutes = profile.overhead_seconds / 60
    body = (
        f"Input: {minutes:g} min of stereo 44.1 kHz 16-bit WAV ({size_mb:.0f} MB), "
        f"{profile.overhead_runs} alternating rounds per format. "
        "Ratio = tool time / bare FFmpeg time in the same round: median "
        "(min-max). The headline is the steady state.\n\n"
        + table(["tool", "format", "ratio to bare FFmpeg", "seconds", "runs"], rows)
        + "\n\nWhere the time of one steady-state conversion of the same file "
        "goes, in seconds (one run, client and backend in one process):\n\n" + stages
    )
    return body


def _measure_target(
    target: Target,
    tools: dict[str, Callable[[Target], float]],
    out_dir: Path,
    runs: int,
) -> list[list[str]]:
    names = list(tools)
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(runs):
        order = names if round_index % 2 == 0 else names[::-1]
        for name in order:
            out_dir.mkdir(parents=True, exist_ok=True)
            times[name].append(tools[name](target))
            shutil.rmtree(out_dir)
        logger.info("Overhead %s round %d: %s", target.label, round_index, times)

    rows = []
    for name in names:
        ratios = [t / bare for t, bare in zip(times[name], times[BARE], strict=True)]
        rows.append(
            [
                name,
                target.label,
                ratio_cell(summarize(ratios)),
                seconds_cell(summarize(times[name])),
                str(runs),
            ]
        )
    return rows
