"""GUI smoothness: the longest stall of the window's event loop under load."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench.audio import make_wav, wav_seconds
from bench.profile import Profile
from bench.report import millis_cell, table
from bench.servers import bundled_backend
from bench.stats import percentile
from bench.tools import TOOL_TIMEOUT_SECONDS

# Gaps longer than this are counted: 50 ms is about where a stall shows.
VISIBLE_STALL_SECONDS = 0.05
HEADERS = (
    "phase", "seconds", "longest gap", "99th percentile gap", "gaps over 50 ms",
    "ticks",
)  # fmt: skip


def measure(profile: Profile, work: Path) -> str:
    big_seconds = wav_seconds(profile.gui_megabytes * 1_000_000)
    files = [make_wav(work / "gui-large.wav", round(big_seconds, 1))]
    files += [
        make_wav(work / f"gui-{index}.wav", 1.0, 500 + 10 * index)
        for index in range(profile.gui_jobs - 1)
    ]
    out_dir = work / "gui-out"
    out_dir.mkdir()
    # The default upload limit (4 GiB) already admits the large file.
    with bundled_backend(work / "gui") as backend:
        env = {
            **os.environ,
            "QT_QPA_PLATFORM": "offscreen",
            "AUDIO_CONVERTER_TOKEN": backend.token,
        }
        completed = subprocess.run(
            [sys.executable, "-m", "bench.gui_child", backend.url, str(out_dir),
             *map(str, files)],
            capture_output=True,
            text=True,
            env=env,
            timeout=TOOL_TIMEOUT_SECONDS,
            check=False,
        )  # fmt: skip
    if completed.returncode != 0:
        raise RuntimeError(f"The window benchmark failed: {completed.stderr[-800:]}")
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    large_size = files[0].stat().st_size
    for path in [*files, *out_dir.iterdir()]:
        path.unlink()

    rows = [
        _row(
            "upload, convert, poll", result["convert_seconds"], result["convert_gaps"]
        ),
        _row("save", result["save_seconds"], result["save_gaps"]),
    ]
    body = (
        f"The window converts one {large_size / 1e6:.0f} MB WAV and "
        f"{profile.gui_jobs - 1} one-second WAVs to WAV with its default poll "
        "interval, then saves every output, so the large file is uploaded and "
        "downloaded once. A 10 ms heartbeat timer runs on the GUI thread "
        "throughout (Qt offscreen platform). Gaps between ticks in ms.\n\n"
        + table(HEADERS, rows)
    )
    return body


def _row(phase: str, seconds: float, gaps: list[float]) -> list[str]:
    return [
        phase,
        f"{seconds:.1f}",
        f"**{millis_cell(max(gaps))}**" if gaps else "",
        millis_cell(percentile(gaps, 0.99)) if gaps else "",
        str(sum(gap > VISIBLE_STALL_SECONDS for gap in gaps)),
        str(len(gaps)),
    ]
