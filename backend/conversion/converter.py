"""Convert one file: probe, resolve options, run FFmpeg, verify the output.

FFmpeg's exit status is not trusted. An output counts only once it decodes
and its duration matches what FFmpeg decoded from the input, less any trim.

Up to four FFmpeg passes read the input: one that finds the peaks of a
float source headed for an integer format, one that decodes it to learn its
exact length (only when trimming or fading), one that measures its loudness
(only when normalising), and the encode. Each has its share of the progress.
"""

from __future__ import annotations

import dataclasses
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

from backend.conversion.edits import (
    MIN_MEASURABLE_SECONDS,
    EditPlan,
    LoudnessMeasurement,
    LoudnessTarget,
    OutputLoudness,
    loudness_notes,
    needs_edit,
    parse_ebur128_summary,
    parse_loudnorm_output,
    parse_loudnorm_result,
    plan_edit,
)
from backend.conversion.ffmpeg import (
    SAFE_INPUT_ARGS,
    FfmpegRun,
    measure_decoded_duration,
    run_ffmpeg,
)
from backend.conversion.formats import (
    EncoderSettings,
    OutputFormat,
    resolve_encoder,
    stores_integers,
)
from backend.conversion.metadata import (
    compare_tags,
    gain_tag_keys,
    metadata_args,
    parse_tags,
)
from backend.conversion.probe import PROBE_TIMEOUT_SECONDS, MediaInfo, probe
from backend.conversion.progress import (
    ConversionUpdate,
    PassSpans,
    ProgressTracker,
)
from backend.errors import ConversionCancelled, ConversionFailed, InvalidInput
from backend.jobs.model import ConversionOptions, MetadataReport

logger = logging.getLogger(__name__)

# The "[libopus @ 0x55c7...] " part of an FFmpeg log line.
_COMPONENT_PREFIX = re.compile(r"^(\[[^\]]*@ 0x[0-9a-f]+\] ?)+")

_COPYABLE_COVER_CODECS = frozenset({"mjpeg", "png"})
# The "[error] " tag of a log line written with `-loglevel level+...`.
_LEVEL_TAG = re.compile(r"\[(error|fatal|panic|warning|info|verbose|debug)\] ")
_PEAK_LEVEL = re.compile(r"Peak level dB: (-?[\d.]+|-?inf)")
# A file is truncated when it decodes to less than its header claims by more
# than this share or this many seconds, whichever is larger.
TRUNCATION_RATIO = 0.01
TRUNCATION_SECONDS = 0.25
# Below this a header's sample rate is damage, not audio (telephony uses 8 kHz).
MIN_SOURCE_SAMPLE_RATE = 1_000
# FFmpeg's default layout for each channel count, which `-ac` also picks.
_CHANNEL_LAYOUTS = {
    1: "mono", 2: "stereo", 3: "2.1", 4: "4.0", 5: "5.0", 6: "5.1", 7: "6.1",
    8: "7.1",
}  # fmt: skip
# Output rate after loudnorm when the source's rate is unknown.
_FALLBACK_SAMPLE_RATE = 48_000


@dataclass(frozen=True)
class ConversionResult:
    """A verified output file and what was changed on the way."""

    path: Path
    extension: str
    media_type: str
    input_duration_seconds: float
    output_duration_seconds: float
    adjustments: tuple[str, ...]
    metadata: MetadataReport | None = None


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
        InvalidOptions when its trims leave under 0.1 s or its fades do not fit,
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
        source_tags = parse_tags(info.report)
        tag_args, cover_args, notes = _tag_and_cover_args(
            info, fmt, options, source_tags
        )
        adjustments = settings.adjustments + notes
        check_clipping = info.audio.is_float and stores_integers(settings)
        spans = PassSpans(
            length_pass=needs_edit(options),
            clipping_pass=check_clipping,
            measure_pass=options.loudness_lufs is not None,
        )
        if check_clipping:
            adjustments += self._clipping_note(
                source, fmt.label, info, spans, on_update, cancel
            )
        descriptor, raw_output = tempfile.mkstemp(
            dir=self._work_dir, prefix="output-", suffix=f".{fmt.extension}"
        )
        os.close(descriptor)
        output = Path(raw_output)
        try:
            audio = self._plan_audio(
                source, filename, options, info, settings, spans, on_update, cancel
            )
            adjustments += audio.notes
            edit = audio.edit

            encoder_args = [
                *cover_args, *tag_args, *self._length_limit_args(),
                *settings.ffmpeg_args(),
            ]  # fmt: skip
            if audio.filters:
                encoder_args += ["-af", ",".join(audio.filters)]
            tracker = ProgressTracker(
                edit.length if edit else info.duration_seconds,
                on_update,
                span=spans.encode,
            )
            run = self._encode(
                source, output, encoder_args, fmt.muxer, tracker, cancel,
                log_info=audio.loudness is not None,
            )  # fmt: skip
            if audio.loudness is not None:
                # The log contains loudnorm's JSON, but only errors explain a
                # failure.
                errors = _error_lines(run.stderr_tail)
                _raise_for_run(dataclasses.replace(run, stderr_tail=errors), filename)
            else:
                _raise_for_run(run, filename)
            input_duration = audio.input_duration
            if input_duration is None:
                input_duration = run.out_time_seconds
                self._check_decoded_length(info, input_duration, filename)
            assert input_duration is not None
            expected = edit.length if edit else input_duration
            output_duration, loudness = self._verify(
                output, filename, expected, cancel, audio.loudness is not None
            )
            if audio.loudness is not None:
                adjustments += _loudness_notes(
                    run.stderr_tail, loudness, audio.loudness, filename, fmt
                )
            report = self._metadata_report(output, filename, info, source_tags)
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
            metadata=report,
        )

    def _plan_audio(
        self,
        source: Path,
        filename: str,
        options: ConversionOptions,
        info: MediaInfo,
        settings: EncoderSettings,
        spans: PassSpans,
        on_update: Callable[[ConversionUpdate], None] | None,
        cancel: threading.Event | None,
    ) -> _AudioPlan:
        """Run the passes that trims, fades and normalisation need before encoding.

        Returns the encode's audio filters: trim, then the downmix and
        resampler to the output's layout and rate, loudnorm and the resampler
        back to the output rate, then the fades. Loudness is measured after
        the downmix, because mixing channels changes it.
        """
        edit: EditPlan | None = None
        input_duration: float | None = None
        if spans.length is not None:
            input_duration = self._decode_length(
                source, filename, info, spans, on_update, cancel
            )
            edit = plan_edit(options, input_duration, filename)
        filters = edit.trim_filters() if edit else []
        notes: tuple[str, ...] = ()

        loudness = LoudnessTarget.from_options(options)
        applied: LoudnessTarget | None = None
        length = edit.length if edit else info.duration_seconds
        if (
            loudness is not None
            and length is not None
            and (length < MIN_MEASURABLE_SECONDS)
        ):
            notes += (
                f"{filename} is too short to measure its loudness (under "
                f"{MIN_MEASURABLE_SECONDS:g} s), so its loudness was left "
                "unchanged.",
            )
        elif loudness is not None:
            filters += _output_layout_filters(settings)
            measurement = self._measure_loudness(
                source, filename, filters, loudness, length, spans, on_update, cancel
            )
            if measurement.is_silent:
                notes += (_silent_note(filename, info, settings),)
            else:
                rate = _output_rate(settings, info)
                filters += [measurement.apply_filter(loudness), f"aresample={rate}"]
                applied = loudness

        if edit is not None:
            filters += edit.fade_filters()
        return _AudioPlan(filters, edit, input_duration, notes, applied)

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
        self,
        source: Path,
        label: str,
        info: MediaInfo,
        spans: PassSpans,
        on_update: Callable[[ConversionUpdate], None] | None,
        cancel: threading.Event | None,
    ) -> tuple[str, ...]:
        """Warn when float samples above full scale will be clipped to integers."""
        assert spans.clipping is not None
        tracker = ProgressTracker(info.duration_seconds, on_update, span=spans.clipping)
        run = run_ffmpeg(
            [self._ffmpeg, "-hide_banner", "-v", "info", *SAFE_INPUT_ARGS,
             "-i", str(source), "-map", "0:a:0",
             "-af", "astats=measure_perchannel=none:measure_overall=Peak_level",
             "-f", "null", "-"],
            on_progress=tracker.update,
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

    def _decode_length(
        self,
        source: Path,
        filename: str,
        info: MediaInfo,
        spans: PassSpans,
        on_update: Callable[[ConversionUpdate], None] | None,
        cancel: threading.Event | None,
    ) -> float:
        """Decode the input to nowhere and return its exact length in seconds.

        Trims and fades are placed against this length, because a header's
        duration can be off (VBR MP3, Ogg) or plain wrong (a truncated file).
        """
        assert spans.length is not None
        tracker = ProgressTracker(info.duration_seconds, on_update, span=spans.length)
        run = run_ffmpeg(
            [self._ffmpeg, "-hide_banner", "-v", "error", *SAFE_INPUT_ARGS,
             "-i", str(source), "-map", "0:a:0", *self._length_limit_args(),
             "-f", "null", "-"],
            on_progress=tracker.update,
            cancel=cancel,
            timeout=self._remaining(),
        )  # fmt: skip
        _raise_for_run(run, filename)
        self._check_decoded_length(info, run.out_time_seconds, filename)
        assert run.out_time_seconds is not None
        return run.out_time_seconds

    def _check_decoded_length(
        self, info: MediaInfo, decoded: float | None, filename: str
    ) -> None:
        """Raise InvalidInput for an input that is empty, too long or truncated."""
        if not decoded:
            raise InvalidInput(
                f"{filename} contains no audio samples.", code="no_audio_samples"
            )
        if self._max_duration is not None and decoded >= self._max_duration:
            raise InvalidInput(
                f"{filename} is longer than the limit of {self._max_duration:.0f} s.",
                code="too_long",
            )
        _raise_if_truncated(info, decoded, filename)

    def _measure_loudness(
        self,
        source: Path,
        filename: str,
        filters: list[str],
        target: LoudnessTarget,
        length: float | None,
        spans: PassSpans,
        on_update: Callable[[ConversionUpdate], None] | None,
        cancel: threading.Event | None,
    ) -> LoudnessMeasurement:
        """Run loudnorm's measuring pass over the audio as it will be encoded."""
        assert spans.measure is not None
        tracker = ProgressTracker(length, on_update, span=spans.measure)
        chain = ",".join([*filters, target.measure_filter()])
        run = run_ffmpeg(
            [self._ffmpeg, "-hide_banner", "-loglevel", "level+info",
             *SAFE_INPUT_ARGS, "-i", str(source), "-map", "0:a:0",
             *self._length_limit_args(), "-af", chain, "-f", "null", "-"],
            on_progress=tracker.update,
            cancel=cancel,
            timeout=self._remaining(),
        )  # fmt: skip
        # The log contains information lines too, but only errors explain a failure.
        _raise_for_run(
            dataclasses.replace(run, stderr_tail=_error_lines(run.stderr_tail)),
            filename,
        )
        measurement = parse_loudnorm_output(run.stderr_tail)
        if measurement is None:
            logger.warning(
                "No loudness measurement for %s: %s", filename, run.stderr_tail
            )
            raise ConversionFailed(
                f"The loudness of {filename} could not be measured, so it was "
                "not converted; try again without loudness normalisation.",
                code="loudness_failed",
            )
        logger.info("Loudness of %s: %s", filename, measurement)
        return measurement

    def _encode(
        self,
        source: Path,
        output: Path,
        encoder_args: list[str],
        muxer: str,
        tracker: ProgressTracker,
        cancel: threading.Event | None,
        *,
        log_info: bool = False,
    ) -> FfmpegRun:
        """Run the encode; `log_info` keeps information lines such as loudnorm's."""
        level = "level+info" if log_info else "error"
        args = [
            self._ffmpeg, "-hide_banner", "-loglevel", level, "-y",
            *SAFE_INPUT_ARGS, "-i", str(source),
            "-map", "0:a:0", *encoder_args,
            "-f", muxer, str(output),
        ]  # fmt: skip
        return run_ffmpeg(
            args, on_progress=tracker.update, cancel=cancel, timeout=self._remaining()
        )

    def _metadata_report(
        self, output: Path, filename: str, info: MediaInfo, source_tags: dict[str, str]
    ) -> MetadataReport | None:
        """Compare the source's tags and picture with what the output contains."""
        try:
            written = probe(self._ffmpeg, output)
        except subprocess.TimeoutExpired:
            logger.warning("Probing the output of %s timed out", filename)
            return None
        return compare_tags(
            source_tags,
            parse_tags(written.report),
            source_has_picture=info.cover is not None,
            output_has_picture=written.cover is not None,
        )

    def _verify(
        self,
        output: Path,
        filename: str,
        expected_seconds: float,
        cancel: threading.Event | None,
        measure_loudness: bool = False,
    ) -> tuple[float, OutputLoudness | None]:
        """Decode the output and check its length against `expected_seconds`.

        Returns the decoded length and, with `measure_loudness`, the output's
        loudness and true peak (None when FFmpeg printed no summary).
        """
        actual, run = measure_decoded_duration(
            self._ffmpeg,
            output,
            cancel=cancel,
            timeout=self._remaining(),
            measure_loudness=measure_loudness,
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
        if not measure_loudness:
            return actual, None
        return actual, parse_ebur128_summary(run.stderr_tail)


@dataclass(frozen=True)
class _AudioPlan:
    """Audio filters for the encode, and what the passes before it found.

    `input_duration` is the decoded length of the whole input, or None when
    no pass decoded it before the encode. `loudness` is the target that the
    filters apply, or None when they leave the loudness alone.
    """

    filters: list[str]
    edit: EditPlan | None
    input_duration: float | None
    notes: tuple[str, ...]
    loudness: LoudnessTarget | None = None


def _tag_and_cover_args(
    info: MediaInfo,
    fmt: OutputFormat,
    options: ConversionOptions,
    source_tags: dict[str, str],
) -> tuple[list[str], list[str], tuple[str, ...]]:
    """Return the tag arguments, the cover arguments and notes for the job.

    With `keep_metadata` off, tags, chapters and picture are left out
    silently. Normalised audio loses the source's ReplayGain and R128 gain
    tags, which would otherwise make players change its loudness once more.
    Trimmed audio loses its chapters, whose times no longer fit.
    """
    if not options.keep_metadata:
        return [*metadata_args(False, fmt.muxer), "-map_chapters", "-1"], [], ()
    drop = gain_tag_keys(source_tags) if options.loudness_lufs is not None else []
    cover_args, cover_note = _cover_args(info, fmt.holds_cover, fmt.label)
    notes = cover_note
    tag_args = metadata_args(True, fmt.muxer, drop)
    if drop:
        notes += (
            "The source's ReplayGain and R128 gain tags were left out, because "
            "they do not match the normalised loudness.",
        )
    if options.trim_start_seconds or options.trim_end_seconds:
        tag_args += ["-map_chapters", "-1"]
        if info.has_chapters:
            notes += ("The source's chapters were left out, because it was trimmed.",)
    return tag_args, cover_args, notes


def _silent_note(filename: str, info: MediaInfo, settings: EncoderSettings) -> str:
    """Say why loudness was left alone, naming a downmix that cancelled the audio."""
    source_channels = info.audio.channels if info.audio is not None else None
    target = settings.channels
    if target is not None and source_channels is not None and target < source_channels:
        layout = "mono" if target == 1 else f"{target} channels"
        return (
            f"{filename} is silent once mixed down to {layout} (its channels "
            "cancel each other out), so its loudness was left unchanged; keep "
            "the source's channels to hear it."
        )
    return f"{filename} is silent, so its loudness was left unchanged."


def _output_layout_filters(settings: EncoderSettings) -> list[str]:
    """Return filters that give the audio the output's channels and rate.

    They do what the encoder's `-ac` and `-ar` would do later, so that the
    loudness is measured and applied on the audio as it will be encoded.
    """
    filters = []
    if settings.channels is not None:
        layout = _CHANNEL_LAYOUTS[settings.channels]
        filters.append(f"aformat=channel_layouts={layout}")
    if settings.sample_rate is not None:
        filters.append(f"aresample={settings.sample_rate}")
    return filters


def _loudness_notes(
    encode_log: str,
    output: OutputLoudness | None,
    target: LoudnessTarget,
    filename: str,
    fmt: OutputFormat,
) -> tuple[str, ...]:
    """Return notes when the output misses the loudness target or the ceiling.

    `encode_log` contains the JSON of the applying loudnorm pass, and
    `output` is what the encoded file measures.
    """
    applied = parse_loudnorm_result(encode_log)
    if applied is None:
        logger.warning("No loudnorm result for %s: %s", filename, encode_log)
    if output is None:
        logger.warning("No loudness measurement of the output of %s", filename)
    logger.info(
        "Loudness of %s: %s after loudnorm, %s after encoding",
        filename, applied, output,
    )  # fmt: skip
    return loudness_notes(target, applied, output, filename, lossy=not fmt.lossless)


def _output_rate(settings: EncoderSettings, info: MediaInfo) -> int:
    """Return the output's sample rate: the resolved one, else the source's."""
    if settings.sample_rate is not None:
        return settings.sample_rate
    if info.audio is not None and info.audio.sample_rate is not None:
        return info.audio.sample_rate
    return _FALLBACK_SAMPLE_RATE


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


def _error_lines(log: str) -> str:
    """Return the error lines of a log written with `-loglevel level+info`."""
    errors = []
    for line in log.splitlines():
        match = _LEVEL_TAG.search(line)
        if match is not None and match[1] in ("error", "fatal", "panic"):
            errors.append(line[: match.start()] + line[match.end() :])
    return "\n".join(errors)


def _first_error_line(stderr: str) -> str:
    """Return FFmpeg's first error, the cause; later lines report its effects."""
    lines = [_COMPONENT_PREFIX.sub("", line).strip() for line in stderr.splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return "it exited without an error message."
    line = lines[0]
    return line if line.endswith(".") else f"{line}."
