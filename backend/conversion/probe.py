"""Read an input's duration and first audio stream from FFmpeg's own report.

The imageio-ffmpeg wheel ships `ffmpeg` without `ffprobe`, so this parses the
stream summary that `ffmpeg -i FILE` prints.
"""

from __future__ import annotations

import functools
import logging
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from backend.conversion.ffmpeg import SAFE_INPUT_ARGS
from backend.conversion.formats import SourceAudio

logger = logging.getLogger(__name__)

PROBE_TIMEOUT_SECONDS = 30

# Report lines of the input itself are indented by exactly two spaces; tags
# (which a file can fill with any text) are indented further.
_DURATION = re.compile(r"^ {2}Duration: (?:(\d+):(\d+):(\d+(?:\.\d+)?)|N/A)", re.M)
_AUDIO_STREAM = re.compile(
    r"^ {2}Stream #0:\d+\S*: Audio: (?P<codec>[^,]+?)(?: \([^)]*\))*, "
    r"(?P<rate>\d+) Hz, (?P<layout>[^,]+), (?P<format>[^,\n]+)",
    re.M,
)
_COVER_STREAM = re.compile(
    r"^ {2}Stream #0:(?P<index>\d+)\S*: Video: (?P<codec>\w+).*\(attached pic\)",
    re.M,
)
_CONTAINER = re.compile(r"^Input #0, (.+?), from ", re.M)
_VIDEO_STREAM = re.compile(r"^ {2}Stream #0:\d+\S*: Video: .*$", re.M)
_AUDIO_STREAM_LINE = re.compile(r"^ {2}Stream #0:\d+\S*: Audio: ", re.M)
_CHANNEL_COUNT = re.compile(r"^(\d+) channels")
_BIT_DEPTH = re.compile(r"\((\d+) bit\)")

# Codecs whose decoded sample format is the source's real bit depth.
_PCM_LIKE_CODECS = ("pcm_", "flac", "alac", "wavpack", "ape", "tta", "truehd", "mlp")

# Messages FFmpeg prints when it cannot open an input at all.
_UNREADABLE_MARKERS = (
    "Invalid data found when processing input",
    "could not find codec parameters",
    "Error opening input",
    "Format not on whitelist",
)


@dataclass(frozen=True)
class MediaInfo:
    """Probe result for one input file."""

    duration_seconds: float | None
    has_audio: bool
    has_video: bool
    audio: SourceAudio | None
    codec: str | None
    unreadable: bool
    report: str

    @property
    def audio_stream_count(self) -> int:
        return len(_AUDIO_STREAM_LINE.findall(self.report))

    @property
    def has_chapters(self) -> bool:
        return "\n  Chapters:\n" in self.report

    @property
    def cover(self) -> tuple[int, str] | None:
        """Return (stream index, codec) of an embedded cover picture, if any."""
        match = _COVER_STREAM.search(self.report)
        return None if match is None else (int(match["index"]), match["codec"])

    @property
    def duration_unreliable(self) -> bool:
        """True when the duration is no promise of the file's length.

        FFmpeg guesses it for a VBR MP3 without a Xing header, and reads an
        Ogg file's from its last page, which a cut-off file does not have.
        """
        if "Estimating duration from bitrate" in self.report:
            return True
        container = _CONTAINER.search(self.report)
        return container is not None and container[1] == "ogg"

    @property
    def unsupported_format(self) -> bool:
        """True when the file is in a container this converter does not read."""
        return "Format not on whitelist" in self.report


def probe(ffmpeg: str, path: Path) -> MediaInfo:
    """Probe `path` with `ffmpeg -i` and parse the printed stream summary."""
    completed = subprocess.run(
        [ffmpeg, "-hide_banner", "-nostdin", *SAFE_INPUT_ARGS, "-i", str(path)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=PROBE_TIMEOUT_SECONDS,
        check=False,
    )
    report = completed.stderr.decode("utf-8", "replace")
    return parse_probe_report(report, channel_layouts(ffmpeg))


def parse_probe_report(report: str, layouts: dict[str, int]) -> MediaInfo:
    """Parse FFmpeg's input summary; `layouts` maps layout names to channels."""
    duration = _parse_duration(report)
    audio_match = _AUDIO_STREAM.search(report)
    has_video = any(
        "(attached pic)" not in line for line in _VIDEO_STREAM.findall(report)
    )
    unreadable = audio_match is None and any(m in report for m in _UNREADABLE_MARKERS)
    if audio_match is None:
        return MediaInfo(duration, False, has_video, None, None, unreadable, report)

    codec = audio_match["codec"].split()[0]
    layout = audio_match["layout"].strip()
    sample_format = audio_match["format"].strip()
    channels = layouts.get(layout)
    if channels is None and (count := _CHANNEL_COUNT.match(layout)):
        channels = int(count[1])
    bits, is_float = _sample_depth(codec, sample_format)
    audio = SourceAudio(
        sample_rate=int(audio_match["rate"]),
        channels=channels,
        bits_per_sample=bits,
        is_float=is_float,
    )
    return MediaInfo(duration, True, has_video, audio, codec, False, report)


@functools.cache
def channel_layouts(ffmpeg: str) -> dict[str, int]:
    """Return FFmpeg's standard channel layouts with their channel counts."""
    completed = subprocess.run(
        [ffmpeg, "-hide_banner", "-layouts"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=PROBE_TIMEOUT_SECONDS,
        check=False,
    )
    layouts: dict[str, int] = {}
    in_standard = False
    for line in completed.stdout.decode("utf-8", "replace").splitlines():
        if line.startswith("Standard channel layouts"):
            in_standard = True
            continue
        parts = line.split()
        if in_standard and len(parts) == 2 and parts[0] != "NAME":
            layouts[parts[0]] = parts[1].count("+") + 1
    if not layouts:
        logger.warning("FFmpeg listed no channel layouts; channel counts unknown")
    return layouts


def _parse_duration(report: str) -> float | None:
    match = _DURATION.search(report)
    if match is None or match[1] is None:
        return None
    hours, minutes, seconds = int(match[1]), int(match[2]), float(match[3])
    return hours * 3600 + minutes * 60 + seconds


def _sample_depth(codec: str, sample_format: str) -> tuple[int | None, bool]:
    """Return (bits per sample, is float) for lossless or PCM codecs only."""
    if not codec.startswith(_PCM_LIKE_CODECS):
        return None, False
    if explicit := _BIT_DEPTH.search(sample_format):
        return int(explicit[1]), False
    base = sample_format.split()[0].rstrip("p")
    depths = {"u8": 8, "s16": 16, "s32": 32, "s64": 64, "flt": 32, "dbl": 64}
    return depths.get(base), base in ("flt", "dbl")
