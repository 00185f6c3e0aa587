"""Convert one file: probe, resolve options, run FFmpeg, verify the output.

FFmpeg's exit status is not trusted. An output counts only once it decodes
and its duration matches what FFmpeg decoded from the input.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from backend.conversion.ffmpeg import (
    SAFE_INPUT_ARGS,
    FfmpegProgress,
    FfmpegRun,
    measure_decoded_duration,
    run_ffmpeg,
)
from backend.conversion.formats import resolve_encoder, stores_integers
from backend.conversion.probe import PROBE_TIMEOUT_SECONDS, MediaInfo, probe
from backend.errors import ConversionCancelled, ConversionFailed, InvalidInput
from backend.jobs.model import ConversionOptions

logger = logging.getLogger(__name__)

# The "[libopus @ 0x55c7...] " part of an FFmpeg log line.
_COMPONENT_PREFIX = re.compile(r"^(\[[^\]]*@ 0x[0-9a-f]+\] ?)+")

# Progress reported for a fully encoded but not yet verified output; 100 is
# kept for the moment the job store has committed the job as completed.
ENCODED_PERCENT = 99.0
_COPYABLE_COVER_CODECS = frozenset({"mjpeg", "png"})
_PEAK_LEVEL = re.compile(r"Peak level dB: (-?[\d.]+|-?inf)")
# A file is truncated when it decodes to less than its header claims by more
# than this share or this many seconds, whichever is larger.
TRUNCATION_RATIO = 0.01
TRUNCATION_SECONDS = 0.25
# Below this a header's sample rate is damage, not audio (telephony uses 8 kHz).
MIN_SOURCE_SAMPLE_RATE = 1_000


@dataclass(frozen=True)
class ConversionUpdate:
    """Progress of the running FFmpeg, in the job's terms."""

    percent: float
    eta_seconds: float | None
    speed: float | None


@dataclass(frozen=True)
class ConversionResult:
    """A verified output file and what was changed on the way."""

    path: Path
    extension: str
    media_type: str
    input_duration_seconds: float
    output_duration_seconds: float
    adjustments: tuple[str, ...]


@dataclass(frozen=True)
class VerifyTolerance:
    """How far an output's duration may be from the input's."""

    ratio: float = 0.005
    seconds: float = 0.05

    def allows(self, expected: float, actual: float) -> bool:
        return abs(expected - actual) <= max(expected * self.ratio, self.seconds)


class Converter:
    """Runs conversions with one FFmpeg binary, writing temporaries in `work_dir`."""

    def __init__(
        self,
        ffmpeg: str,
        work_dir: Path,
        tolerance: VerifyTolerance | None = None,
        *,
        max_duration_seconds: float | None = None,
        timeout_seconds: float | None = None,
    ) -> None:
        self._ffmpeg = ffmpeg
        self._work_dir = work_dir
        self._tolerance = tolerance or VerifyTolerance()
        self._max_duration = max_duration_seconds
        self._timeout = timeout_seconds
        # Per thread: one Converter serves every worker thread at once.
        self._deadline = threading.local()
        work_dir.mkdir(parents=True, exist_ok=True, mode=0o700)

    def remove_leftovers(self) -> int:
        """Delete temporary files a previous server process left in the work folder.

        Call only at startup, before any conversion runs: every file there
        belongs to a conversion that is no longer running.
        """
        removed = 0
        for path in self._work_dir.iterdir():
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed += 1
        return removed

    def convert(
        self,
        source: Path,
        filename: str,
        options: ConversionOptions,
        *,
        on_update: Callable[[ConversionUpdate], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> ConversionResult:
        """Convert `source` (uploaded as `filename`) and return the verified output.

        Raises InvalidInput when the file contains no usable audio,
        ConversionFailed when FFmpeg or the output check fails, and
        ConversionCancelled when `cancel` is set. No temporary file survives
        a raised error; on success the caller owns the returned file.
        """
        # One time limit for the whole conversion, shared by every FFmpeg run.
        self._deadline.started = time.monotonic()
        info = self._probe(source, filename)
        assert info.audio is not None
        settings = resolve_encoder(options, info.audio)
        fmt = settings.output_format
        cover_args, cover_note = _cover_args(info, fmt.holds_cover, fmt.label)
        adjustments = settings.adjustments + cover_note
        if info.audio.is_float and stores_integers(settings):
            adjustments += self._clipping_note(source, fmt.label, cancel)
        descriptor, raw_output = tempfile.mkstemp(
            dir=self._work_dir, prefix="output-", suffix=f".{fmt.extension}"
        )
        os.close(descriptor)
        output = Path(raw_output)
        try:
            encoder_args = [
                *cover_args, *self._length_limit_args(), *settings.ffmpeg_args()
            ]  # fmt: skip
            run = self._encode(
                source, output, encoder_args, fmt.muxer, info, on_update, cancel
            )
            _raise_for_run(run, filename)
            input_duration = run.out_time_seconds
            if not input_duration:
                raise InvalidInput(
                    f"{filename} contains no audio samples.", code="no_audio_samples"
                )
            if self._max_duration is not None and input_duration >= self._max_duration:
                raise InvalidInput(
                    f"{filename} is longer than the limit of "
                    f"{self._max_duration:.0f} s.",
                    code="too_long",
                )
            _raise_if_truncated(info, input_duration, filename)
            output_duration = self._verify(output, filename, input_duration, cancel)
        except BaseException:
            output.unlink(missing_ok=True)
            raise

        return ConversionResult(
            path=output,
            extension=fmt.extension,
            media_type=fmt.media_type,
            input_duration_seconds=input_duration,
            output_duration_seconds=output_duration,
            adjustments=adjustments,
        )

    def _probe(self, source: Path, filename: str) -> MediaInfo:
        if source.stat().st_size == 0:
            raise InvalidInput(f"{filename} is empty (0 bytes).", code="empty_file")
        try:
            info = probe(self._ffmpeg, source)
        except subprocess.TimeoutExpired:
            raise InvalidInput(
                f"{filename} could not be read: probing it took longer than "
                f"{PROBE_TIMEOUT_SECONDS} s.",
                code="probe_timed_out",
            ) from None
        if info.audio is None:
            if info.unsupported_format:
                raise InvalidInput(
                    f"{filename} is not in an audio format this converter reads "
                    "(playlists and streaming manifests are rejected).",
                    code="unsupported_format",
                )
            if info.unreadable:
                raise InvalidInput(
                    f"{filename} is not an audio file FFmpeg can read.",
                    code="unreadable_input",
                )
            detail = " (it holds only video or pictures)" if info.has_video else ""
            raise InvalidInput(
                f"{filename} has no audio stream{detail}.", code="no_audio_stream"
            )
        duration = info.duration_seconds
        if self._max_duration is not None and (duration or 0) > self._max_duration:
            raise InvalidInput(
                f"{filename} lasts {duration:.0f} s, longer than the limit of "
                f"{self._max_duration:.0f} s.",
                code="too_long",
            )
        rate = info.audio.sample_rate
        if rate is not None and rate < MIN_SOURCE_SAMPLE_RATE:
            raise InvalidInput(
                f"{filename} claims a sample rate of {rate} Hz, which no real "
                "recording has; the file header is damaged.",
                code="invalid_sample_rate",
            )
        return info

    def _remaining(self) -> float | None:
        """Return the seconds left of this conversion's time limit."""
        if self._timeout is None:
            return None
        started: float = self._deadline.started
        return max(self._timeout - (time.monotonic() - started), 0.001)

    def _length_limit_args(self) -> list[str]:
        """Stop encoding past the length limit, whatever the header claims."""
        if self._max_duration is None:
            return []
        return ["-t", f"{self._max_duration + 1:.3f}"]

    def _clipping_note(
        self, source: Path, label: str, cancel: threading.Event | None
    ) -> tuple[str, ...]:
        """Warn when float samples above full scale will be clipped to integers."""
        run = run_ffmpeg(
            [self._ffmpeg, "-hide_banner", "-v", "info", *SAFE_INPUT_ARGS,
             "-i", str(source), "-map", "0:a:0",
             "-af", "astats=measure_perchannel=none:measure_overall=Peak_level",
             "-f", "null", "-"],
            cancel=cancel,
            timeout=self._remaining(),
        )  # fmt: skip
        if run.timed_out:
            raise ConversionFailed(
                f"Conversion of {source.name} timed out: it ran longer than the "
                "time limit and was stopped.",
                code="timed_out",
            )
        match = _PEAK_LEVEL.search(run.stderr_tail)
        if match is None or float(match[1]) <= 0.01:
            return ()
        return (
            f"The source's peaks reach {float(match[1]):+.1f} dB above full scale; "
            f"{label} stores whole numbers, so they were clipped. Lower the "
            "volume first, or convert to WAV to keep them.",
        )

    def _encode(
        self,
        source: Path,
        output: Path,
        encoder_args: list[str],
        muxer: str,
        info: MediaInfo,
        on_update: Callable[[ConversionUpdate], None] | None,
        cancel: threading.Event | None,
    ) -> FfmpegRun:
        args = [
            self._ffmpeg, "-hide_banner", "-v", "error", "-y",
            *SAFE_INPUT_ARGS, "-i", str(source),
            "-map", "0:a:0", "-map_metadata", "0",
            *encoder_args,
            "-f", muxer, str(output),
        ]  # fmt: skip
        tracker = _ProgressTracker(info.duration_seconds, on_update)
        return run_ffmpeg(
            args, on_progress=tracker.update, cancel=cancel, timeout=self._remaining()
        )

    def _verify(
        self,
        output: Path,
        filename: str,
        expected_seconds: float,
        cancel: threading.Event | None,
    ) -> float:
        actual, run = measure_decoded_duration(
            self._ffmpeg, output, cancel=cancel, timeout=self._remaining()
        )
        if run.timed_out:
            raise ConversionFailed(
                f"Conversion of {filename} timed out: it ran longer than the time "
                "limit and was stopped.",
                code="timed_out",
            )
        if run.cancelled:
            raise ConversionCancelled(f"Conversion of {filename} was cancelled.")
        if run.returncode != 0 or actual is None:
            logger.warning(
                "Output of %s does not decode: %s", filename, run.stderr_tail
            )
            raise ConversionFailed(
                f"The converted {filename} does not decode; the output was discarded.",
                code="output_invalid",
            )
        if not self._tolerance.allows(expected_seconds, actual):
            raise ConversionFailed(
                f"The converted {filename} lasts {actual:.3f} s but the input "
                f"decodes to {expected_seconds:.3f} s; the output was discarded.",
                code="duration_mismatch",
            )
        return actual


class _ProgressTracker:
    """Turns FFmpeg's media time into a percentage, an ETA and a speed."""

    def __init__(
        self,
        duration: float | None,
        on_update: Callable[[ConversionUpdate], None] | None,
    ) -> None:
        self._duration = duration if duration and duration > 0 else None
        self._on_update = on_update
        self._started = time.monotonic()

    def update(self, progress: FfmpegProgress) -> None:
        if self._on_update is None or progress.out_time_seconds is None:
            return
        elapsed = time.monotonic() - self._started
        done = progress.out_time_seconds
        speed = progress.speed
        if speed is None and elapsed > 0:
            speed = done / elapsed
        percent = 0.0
        eta = None
        if self._duration is not None:
            fraction = min(done / self._duration, 1.0)
            percent = fraction * ENCODED_PERCENT
            if speed:
                eta = max(self._duration - done, 0.0) / speed
        self._on_update(ConversionUpdate(percent=percent, eta_seconds=eta, speed=speed))


def _cover_args(
    info: MediaInfo, target_holds_cover: bool, label: str
) -> tuple[list[str], tuple[str, ...]]:
    """Return the arguments that copy the cover picture, and a note if dropped.

    Only JPEG and PNG pictures are copied, because every target that stores a
    cover accepts those. The picture is copied as an attached picture, never
    as a video track.
    """
    cover = info.cover
    if cover is None:
        return [], ()
    index, codec = cover
    if not target_holds_cover:
        return [], (f"{label} holds no cover picture; the source's was left out.",)
    if codec not in _COPYABLE_COVER_CODECS:
        return [], (f"The cover picture ({codec}) was left out.",)
    args = ["-map", f"0:{index}", "-c:v", "copy", "-disposition:v:0", "attached_pic"]
    return args, ()


def _raise_if_truncated(info: MediaInfo, decoded: float, filename: str) -> None:
    """Fail a file that decodes to clearly less than its header claims."""
    claimed = info.duration_seconds
    if not claimed or info.duration_unreliable:
        return
    # The container's duration is that of its longest stream, so with video or
    # more audio streams beside the first it does not describe this stream.
    if info.has_video or info.audio_stream_count > 1:
        return
    if decoded < claimed - max(claimed * TRUNCATION_RATIO, TRUNCATION_SECONDS):
        raise InvalidInput(
            f"{filename} is truncated: its header claims {claimed:.1f} s, but only "
            f"{decoded:.1f} s of audio could be decoded.",
            code="truncated",
        )


def _raise_for_run(run: FfmpegRun, filename: str) -> None:
    if run.cancelled:
        raise ConversionCancelled(f"Conversion of {filename} was cancelled.")
    if run.timed_out:
        raise ConversionFailed(
            f"Conversion of {filename} timed out: it ran longer than the time "
            "limit and was stopped.",
            code="timed_out",
        )
    if run.returncode != 0:
        logger.warning(
            "FFmpeg exited with %d on %s: %s", run.returncode, filename,
            run.stderr_tail,
        )  # fmt: skip
        reason = _first_error_line(run.stderr_tail)
        raise ConversionFailed(
            f"FFmpeg could not convert {filename}: {reason}",
            code="ffmpeg_failed",
        )


def _first_error_line(stderr: str) -> str:
    """Return FFmpeg's first error, the cause; later lines report its effects."""
    lines = [_COMPONENT_PREFIX.sub("", line).strip() for line in stderr.splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return "it exited without an error message."
    line = lines[0]
    return line if line.endswith(".") else f"{line}."
