"""Peak resident memory of the backend and its FFmpeg children by input length.

A fresh bundled backend converts each length, so its peak belongs to that
conversion alone. pydub converts the same file in a child Python process
that reports its own peak and its FFmpeg's (getrusage).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from pathlib import Path

import psutil

from bench.audio import make_wav
from bench.profile import Profile
from bench.report import mib, table
from bench.servers import bundled_backend, isolated_env
from bench.tools import TARGETS, TOOL_TIMEOUT_SECONDS, cli_convert

logger = logging.getLogger(__name__)

SAMPLE_SECONDS = 0.02
TARGET = TARGETS[0]
HEADERS = (
    "minutes", "input MiB", "backend idle", "backend peak", "its FFmpeg peak",
    "pydub process peak", "pydub's FFmpeg peak",
)  # fmt: skip


class PeakSampler:
    """Samples the RSS of a process and, separately, of its child processes.

    Sampling every 20 ms can miss a shorter spike, so on Linux the process's
    own peak is also read from VmHWM in /proc, which the kernel keeps exactly.
    """

    def __init__(self, pid: int) -> None:
        self._process = psutil.Process(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="rss-sampler")
        self.process_peak = 0
        self.child_peak = 0

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self.process_peak = max(self.process_peak, _high_water_mark(self._process))

    def _sample(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            try:
                self.process_peak = max(
                    self.process_peak, self._process.memory_info().rss
                )
                children = self._process.children(recursive=True)
            except psutil.Error:
                return
            for child in children:
                try:
                    self.child_peak = max(self.child_peak, child.memory_info().rss)
                except psutil.Error:
                    continue


def _high_water_mark(process: psutil.Process) -> int:
    """Return VmHWM, the kernel's record of the peak RSS, in bytes (Linux)."""
    try:
        with open(f"/proc/{process.pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def measure(profile: Profile, work: Path) -> str:
    rows = []
    env = isolated_env(work)
    for minutes in profile.memory_minutes:
        source = make_wav(work / f"memory-{minutes:g}min.wav", minutes * 60)
        out_dir = work / "out"
        with bundled_backend(work / f"memory-{minutes:g}") as backend:
            idle = psutil.Process(backend.pid).memory_info().rss
            with PeakSampler(backend.pid) as sampler:
                cli_convert([source], out_dir, TARGET, env, backend)
        pydub_peak, pydub_child_peak = _pydub_peaks(source, out_dir)
        logger.info("Memory at %g min: backend %d, pydub %d", minutes,
                    sampler.process_peak, pydub_peak)  # fmt: skip
        rows.append(
            [
                f"{minutes:g}",
                mib(source.stat().st_size),
                mib(idle),
                f"**{mib(sampler.process_peak)}**",
                mib(sampler.child_peak),
                f"**{mib(pydub_peak)}**",
                mib(pydub_child_peak),
            ]
        )
        source.unlink()
        for output in out_dir.glob("*"):
            output.unlink()

    body = (
        f"Conversion to {TARGET.label} through the CLI against a backend "
        "started for each length. Peak resident memory in MiB.\n\n"
        + table(HEADERS, rows)
    )
    return body


def _pydub_peaks(source: Path, out_dir: Path) -> tuple[int, int]:
    """Convert with pydub in a child process; return its and FFmpeg's peak RSS."""
    output = out_dir / f"{source.stem}-pydub.mp3"
    completed = subprocess.run(
        [sys.executable, "-m", "bench.pydub_child", str(source), str(output)],
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT_SECONDS,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(
            f"pydub could not convert {source.name}: {completed.stderr[-500:]}"
        )
    peaks = json.loads(completed.stdout)
    return int(peaks["self"]), int(peaks["children"])
