"""Generate benchmark inputs: stereo 44.1 kHz 16-bit WAV files of any length.

The signal is a sine tone with pink noise under it. Encoders work on it
about as hard as on music, unlike a pure tone, which compresses far better.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import imageio_ffmpeg

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
SAMPLE_RATE = 44_100
# FFmpeg generates about 300 s of this audio per second on a 2-core AMD EPYC
# VM, so a 120-minute file takes about 25 s. The timeout leaves room.
GENERATE_TIMEOUT_SECONDS = 900


def make_wav(path: Path, seconds: float, frequency: int = 440) -> Path:
    """Write `seconds` of stereo 44.1 kHz 16-bit PCM to `path` and return it."""
    source = f"sine=frequency={frequency}:sample_rate={SAMPLE_RATE}:duration={seconds}"
    noise = f"anoisesrc=color=pink:sample_rate={SAMPLE_RATE}:duration={seconds}"
    command = [
        FFMPEG, "-hide_banner", "-v", "error", "-nostdin", "-y",
        "-f", "lavfi", "-i", source,
        "-f", "lavfi", "-i", f"{noise}:amplitude=0.1",
        "-filter_complex", "[0:a][1:a]amerge=inputs=2[out]", "-map", "[out]",
        "-c:a", "pcm_s16le", str(path),
    ]  # fmt: skip
    subprocess.run(
        command, check=True, capture_output=True, timeout=GENERATE_TIMEOUT_SECONDS
    )
    return path


def wav_seconds(size_bytes: int) -> float:
    """Return the length of a stereo 16-bit 44.1 kHz WAV of `size_bytes`."""
    return size_bytes / (SAMPLE_RATE * 2 * 2)
