"""The converters a benchmark compares, each run once on one file.

Every function returns the wall time in seconds of one conversion and
raises ConversionError when the tool fails, naming the input and the reason.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backend.conversion.formats import SourceAudio, resolve_encoder
from backend.jobs.model import ConversionOptions
from bench.audio import FFMPEG, SAMPLE_RATE
from bench.servers import RunningBackend, cli_command
from desktop_app.client.models import ConversionOptions as ClientOptions

# One 10-minute conversion takes seconds; this only stops a hung tool.
TOOL_TIMEOUT_SECONDS = 1800


class ConversionError(RuntimeError):
    """A compared tool failed to convert a benchmark input."""


@dataclass(frozen=True)
class Target:
    """One output format and bitrate the benchmark converts to."""

    label: str
    format: str
    bitrate_kbps: int | None = None

    @property
    def options(self) -> ConversionOptions:
        """Return the options as the backend receives them."""
        return ConversionOptions(format=self.format, bitrate_kbps=self.bitrate_kbps)

    @property
    def client_options(self) -> ClientOptions:
        """Return the options as the client sends them."""
        return ClientOptions(format=self.format, bitrate_kbps=self.bitrate_kbps)

    def ffmpeg_output_args(self) -> tuple[list[str], str, str]:
        """Return the product's encoder arguments, muxer and file extension.

        They come from the backend's own option resolution for a stereo
        44.1 kHz 16-bit source, so bare FFmpeg encodes with exactly the
        product's settings (Opus, for example, at 48 kHz and 128 kbit/s).
        """
        source = SourceAudio(sample_rate=SAMPLE_RATE, channels=2, bits_per_sample=16)
        settings = resolve_encoder(self.options, source)
        fmt = settings.output_format
        return settings.ffmpeg_args(), fmt.muxer, fmt.extension

    @property
    def bitrate(self) -> int | None:
        """Return the bitrate the product encodes with, in kbit/s."""
        source = SourceAudio(sample_rate=SAMPLE_RATE, channels=2, bits_per_sample=16)
        return resolve_encoder(self.options, source).bitrate_kbps


TARGETS = (
    Target("MP3 192 kbit/s", "mp3", 192),
    Target("FLAC", "flac"),
    Target("Opus (128 kbit/s, 48 kHz)", "opus"),
)


def _run(
    command: list[str], description: str, env: dict[str, str] | None = None
) -> float:
    started = time.perf_counter()
    completed = subprocess.run(
        command,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=TOOL_TIMEOUT_SECONDS,
        env=env,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        detail = completed.stderr.decode("utf-8", "replace").strip()[-500:]
        raise ConversionError(
            f"{description} failed with exit status {completed.returncode}: {detail}"
        )
    return elapsed


def bare_ffmpeg(source: Path, out_dir: Path, target: Target) -> float:
    """Convert with the same FFmpeg binary and encoder settings as the product."""
    args, muxer, extension = target.ffmpeg_output_args()
    output = out_dir / f"{source.stem}.{extension}"
    command = [
        FFMPEG, "-hide_banner", "-v", "error", "-nostdin", "-y",
        "-i", str(source), "-map", "0:a:0", *args, "-f", muxer, str(output),
    ]  # fmt: skip
    return _run(command, f"FFmpeg on {source.name}")


def cli_convert(
    sources: list[Path],
    out_dir: Path,
    target: Target,
    env: dict[str, str],
    backend: RunningBackend | None = None,
) -> float:
    """Convert with `audio-converter convert`, against `backend` or its own."""
    command = [
        *cli_command(), "convert", *map(str, sources),
        "--to", target.format, "--out", str(out_dir),
    ]  # fmt: skip
    if target.bitrate_kbps is not None:
        command += ["--bitrate", str(target.bitrate_kbps)]
    if backend is not None:
        # One argument each: a token may start with "-".
        command += [f"--server={backend.url}", f"--token={backend.token}"]
    names = ", ".join(source.name for source in sources)
    return _run(command, f"audio-converter convert on {names}", env=env)


def pydub_export(source: Path, out_dir: Path, target: Target) -> float:
    """Convert in this process with pydub, pointed at the product's FFmpeg."""
    AudioSegment = load_pydub()  # noqa: N806 (pydub's class name)
    _, _, extension = target.ffmpeg_output_args()
    output = out_dir / f"{source.stem}.{extension}"
    started = time.perf_counter()
    pydub_convert(AudioSegment, source, output, target)
    return time.perf_counter() - started


def pydub_convert(
    audio_segment: Any, source: Path, output: Path, target: Target
) -> None:
    """Load `source` with pydub and export it as `target` to `output`."""
    args, muxer, _ = target.ffmpeg_output_args()
    segment = audio_segment.from_file(str(source), format="wav")
    bitrate = f"{target.bitrate}k" if target.bitrate else None
    codec = args[args.index("-c:a") + 1]
    extra = args[args.index("-ar") : args.index("-ar") + 2] if "-ar" in args else []
    exported = segment.export(
        str(output), format=muxer, codec=codec, bitrate=bitrate, parameters=extra
    )
    exported.close()


def load_pydub() -> Any:
    """Import pydub's AudioSegment and point it at the product's FFmpeg."""
    with warnings.catch_warnings():
        # pydub warns at import when no ffmpeg is on the PATH, but gets ours below.
        warnings.simplefilter("ignore", RuntimeWarning)
        from pydub import AudioSegment

    AudioSegment.converter = FFMPEG
    return AudioSegment


def soundconverter_available() -> bool:
    return shutil.which("soundconverter") is not None


def soundconverter_batch(source: Path, out_dir: Path, target: Target) -> float:
    """Convert with `soundconverter -b` (GStreamer encoders, one job)."""
    binary = shutil.which("soundconverter")
    if binary is None:
        raise ConversionError("soundconverter is not installed.")
    command = [
        binary, "-b", str(source), "-f", target.format, "-o", str(out_dir),
        "-e", "overwrite", "-j", "1",
    ]  # fmt: skip
    if target.format == "mp3":
        command += ["-m", "cbr", "-q", str(target.bitrate_kbps)]
    elif target.format == "opus" and target.bitrate is not None:
        command += ["-q", str(target.bitrate)]
    _, _, extension = target.ffmpeg_output_args()
    elapsed = _run(command, f"soundconverter on {source.name}")
    if not any(out_dir.rglob(f"*.{extension}")):
        raise ConversionError(
            f"soundconverter on {source.name} wrote no .{extension} file."
        )
    return elapsed
