"""Make test audio with FFmpeg and measure what a file decodes to."""

from __future__ import annotations

import subprocess
from pathlib import Path

import imageio_ffmpeg

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()

# Output options per file suffix for generated inputs.
_ENCODERS: dict[str, list[str]] = {
    ".wav": ["-c:a", "pcm_s16le"],
    ".flac": ["-c:a", "flac"],
    ".mp3": ["-c:a", "libmp3lame", "-b:a", "128k"],
    ".m4a": ["-c:a", "aac", "-b:a", "128k"],
    ".ogg": ["-c:a", "libvorbis"],
    ".opus": ["-c:a", "libopus"],
}


def make_tone(
    path: Path,
    seconds: float = 1.0,
    *,
    rate: int = 44_100,
    channels: int = 2,
    frequency: int = 440,
    extra: list[str] | None = None,
) -> Path:
    """Write a sine tone to `path`, encoded by the format its suffix names."""
    layout = {1: "mono", 2: "stereo", 4: "quad", 6: "5.1"}[channels]
    command = [
        FFMPEG, "-hide_banner", "-v", "error", "-y",
        "-f", "lavfi",
        "-i", f"sine=frequency={frequency}:sample_rate={rate}:duration={seconds}",
        "-af", f"aformat=channel_layouts={layout}",
        *_ENCODERS.get(path.suffix.lower(), []),
        *(extra or []),
        str(path),
    ]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, timeout=60)
    return path


def decoded_duration(path: Path) -> float | None:
    """Return the seconds of audio `path` decodes to, or None if it does not."""
    completed = subprocess.run(
        [FFMPEG, "-hide_banner", "-v", "error", "-nostdin", "-i", str(path),
         "-map", "0:a:0", "-f", "null", "-progress", "pipe:1", "-"],
        capture_output=True,
        timeout=120,
        check=False,
    )  # fmt: skip
    if completed.returncode != 0:
        return None
    times = [
        line.split("=", 1)[1]
        for line in completed.stdout.decode().splitlines()
        if line.startswith("out_time_us=")
    ]
    if not times or times[-1] == "N/A":
        return None
    return int(times[-1]) / 1_000_000


def stream_summary(path: Path) -> str:
    """Return FFmpeg's one-line description of the first audio stream."""
    completed = subprocess.run(
        [FFMPEG, "-hide_banner", "-nostdin", "-i", str(path)],
        capture_output=True,
        timeout=60,
        check=False,
    )
    for line in completed.stderr.decode("utf-8", "replace").splitlines():
        if "Audio:" in line:
            return line.strip()
    return ""
