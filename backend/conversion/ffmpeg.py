"""Run FFmpeg as a subprocess and turn its `-progress` output into callbacks.

Arguments always go to FFmpeg as a list, never through a shell.
"""

from __future__ import annotations

import collections
import ctypes
import logging
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import imageio_ffmpeg

logger = logging.getLogger(__name__)

# Demuxers an input may be read with: audio containers only. Playlists and
# concat lists (HLS, ffconcat) are not among them, so a text file named .mp3
# can never make FFmpeg open another file or a URL.
AUDIO_DEMUXERS = (
    "aac", "ac3", "aiff", "amr", "ape", "asf", "au", "caf", "dsf", "dts",
    "eac3", "flac", "matroska", "mlp", "mov", "mp3", "mpc", "mpc8", "ogg",
    "rf64", "truehd", "tta", "voc", "w64", "wav", "wsaud", "wv",
)  # fmt: skip
# Input options that keep FFmpeg to the local file it was given.
SAFE_INPUT_ARGS = (
    "-protocol_whitelist", "file",
    "-format_whitelist", ",".join(AUDIO_DEMUXERS),
)  # fmt: skip

# How often the runner checks for cancellation and the deadline.
_POLL_SECONDS = 0.05
_STDERR_LINES_KEPT = 40


@dataclass(frozen=True)
class FfmpegProgress:
    """One `-progress` block: media time written so far and speed vs real time."""

    out_time_seconds: float | None
    speed: float | None
    finished: bool


@dataclass(frozen=True)
class FfmpegRun:
    """Outcome of one FFmpeg run."""

    returncode: int
    out_time_seconds: float | None
    stderr_tail: str
    cancelled: bool
    timed_out: bool

    @property
    def succeeded(self) -> bool:
        return self.returncode == 0 and not self.cancelled and not self.timed_out


def resolve_ffmpeg(configured: Path | None) -> str:
    """Return the FFmpeg binary: the configured one, or imageio-ffmpeg's."""
    if configured is not None:
        if not configured.is_file():
            raise FileNotFoundError(f"Configured FFmpeg binary not found: {configured}")
        return str(configured)
    return str(imageio_ffmpeg.get_ffmpeg_exe())


def run_ffmpeg(
    args: Sequence[str],
    *,
    on_progress: Callable[[FfmpegProgress], None] | None = None,
    cancel: threading.Event | None = None,
    timeout: float | None = None,
) -> FfmpegRun:
    """Run `args` (binary first) with `-progress pipe:1` and wait for the end.

    `on_progress` is called from a reader thread for every progress block.
    Setting `cancel`, or passing `timeout` seconds, kills FFmpeg, and the
    result records which of the two happened. Nothing here raises for a
    non-zero exit status.
    """
    command = [args[0], "-nostdin", "-nostats", "-progress", "pipe:1", *args[1:]]
    logger.debug("Starting FFmpeg: %r", command)
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=_die_with_parent if sys.platform == "linux" else None,
    )
    stderr_lines: collections.deque[str] = collections.deque(maxlen=_STDERR_LINES_KEPT)
    last_time: list[float | None] = [None]

    def read_progress() -> None:
        assert process.stdout is not None
        block: dict[str, str] = {}
        for raw in process.stdout:
            key, _, value = raw.decode("utf-8", "replace").strip().partition("=")
            block[key] = value
            if key != "progress":
                continue
            update = _parse_progress_block(block)
            if update.out_time_seconds is not None:
                last_time[0] = update.out_time_seconds
            if on_progress is not None:
                on_progress(update)
            block = {}

    def read_stderr() -> None:
        assert process.stderr is not None
        for raw in process.stderr:
            stderr_lines.append(raw.decode("utf-8", "replace").rstrip())

    readers = [
        threading.Thread(target=read_progress, name="ffmpeg-progress", daemon=True),
        threading.Thread(target=read_stderr, name="ffmpeg-stderr", daemon=True),
    ]
    for reader in readers:
        reader.start()

    cancelled = timed_out = False
    deadline = None if timeout is None else time.monotonic() + timeout
    while process.poll() is None:
        if cancel is not None and cancel.wait(_POLL_SECONDS):
            cancelled = True
        elif cancel is None:
            time.sleep(_POLL_SECONDS)
        if deadline is not None and time.monotonic() > deadline:
            timed_out = True
        if cancelled or timed_out:
            _stop(process)
            break

    returncode = process.wait()
    for reader in readers:
        reader.join(timeout=5)
    return FfmpegRun(
        returncode=returncode,
        out_time_seconds=last_time[0],
        stderr_tail="\n".join(stderr_lines),
        cancelled=cancelled,
        timed_out=timed_out,
    )


def measure_decoded_duration(
    ffmpeg: str,
    path: Path,
    *,
    cancel: threading.Event | None = None,
    timeout: float | None = None,
    measure_loudness: bool = False,
) -> tuple[float | None, FfmpegRun]:
    """Decode the first audio stream of `path` to nowhere and return its length.

    Returns the decoded duration in seconds (None when nothing decoded) and
    the run, so callers can report FFmpeg's own error. With
    `measure_loudness`, the run's log ends with the summary of
    `ebur128=peak=true`: integrated loudness and true peak.
    """
    level = "level+info" if measure_loudness else "error"
    filters = ["-af", "ebur128=peak=true"] if measure_loudness else []
    run = run_ffmpeg(
        [ffmpeg, "-hide_banner", "-loglevel", level, *SAFE_INPUT_ARGS,
         "-i", str(path), "-map", "0:a:0", *filters, "-f", "null", "-"],
        cancel=cancel,
        timeout=timeout,
    )  # fmt: skip
    return run.out_time_seconds, run


def _parse_progress_block(block: dict[str, str]) -> FfmpegProgress:
    out_time = None
    raw_us = block.get("out_time_us", "N/A")
    if raw_us not in ("N/A", ""):
        try:
            out_time = max(int(raw_us), 0) / 1_000_000
        except ValueError:
            out_time = None
    speed = None
    raw_speed = block.get("speed", "N/A").strip().rstrip("x")
    if raw_speed not in ("N/A", ""):
        try:
            speed = float(raw_speed)
        except ValueError:
            speed = None
    return FfmpegProgress(
        out_time_seconds=out_time,
        speed=speed,
        finished=block.get("progress") == "end",
    )


def _die_with_parent() -> None:
    """Have Linux kill FFmpeg if the server dies (or its worker thread ends)."""
    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(pr_set_pdeathsig, signal.SIGKILL)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Ask FFmpeg to quit, then kill it if it does not within two seconds."""
    process.terminate()
    try:
        process.wait(timeout=2)
    except subprocess.TimeoutExpired:
        process.kill()
