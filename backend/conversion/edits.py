"""Trim, fade and loudness normalisation as FFmpeg audio filters.

Loudness normalisation follows EBU R128 with FFmpeg's `loudnorm` filter in
two passes. The first measures the (trimmed) audio. The second applies the
measured values with `linear=true`, so the whole file gets one constant gain
when that gain keeps the true peak under the ceiling and the loudness range
under the target range. Otherwise `loudnorm` falls back to its dynamic mode.
`loudnorm` works at 192 kHz, so its output is resampled to the output rate.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass

from backend.conversion.formats import DEFAULT_TRUE_PEAK_DB
from backend.errors import InvalidOptions
from backend.jobs.model import ConversionOptions

# loudnorm's default loudness range target (LU) and the maximum it accepts.
_DEFAULT_LRA = 7.0
_MAX_LRA = 50.0
# The last JSON object in loudnorm's log output.
_JSON_OBJECT = re.compile(r"\{[^{}]*\}")
# loudnorm measures integrated loudness over 400 ms blocks (EBU R128), so it
# returns -inf for shorter audio.
MIN_MEASURABLE_SECONDS = 0.4
# The shortest audio a trim may leave. A trim that leaves only a few samples
# can give an output that does not decode.
MIN_TRIMMED_SECONDS = 0.1
# A result further than this from the loudness target gets a note.
LOUDNESS_TOLERANCE_LU = 1.0
# A true peak this far above the ceiling gets a note (ebur128 reports 0.1 dB).
_PEAK_SLACK_DB = 0.1
# The integrated loudness and the true peak in ebur128's summary.
_EBUR128_INTEGRATED = re.compile(r"I:\s+(-?[\d.]+|-inf) LUFS")
_EBUR128_PEAK = re.compile(r"True peak:\s+Peak:\s+(-?[\d.]+|-inf) dBFS")


@dataclass(frozen=True)
class EditPlan:
    """The kept part of the source and its fades, in seconds."""

    start: float
    length: float
    fade_in: float
    fade_out: float

    def trim_filters(self) -> list[str]:
        """Return filters that keep `length` seconds from `start`, timed from 0."""
        end = self.start + self.length
        return [
            "asetpts=PTS-STARTPTS",
            f"atrim=start={_seconds(self.start)}:end={_seconds(end)}",
            "asetpts=PTS-STARTPTS",
        ]

    def fade_filters(self) -> list[str]:
        filters = []
        if self.fade_in > 0:
            filters.append(f"afade=t=in:st=0:d={_seconds(self.fade_in)}")
        if self.fade_out > 0:
            start = self.length - self.fade_out
            filters.append(
                f"afade=t=out:st={_seconds(start)}:d={_seconds(self.fade_out)}"
            )
        return filters


def needs_edit(options: ConversionOptions) -> bool:
    """Return True when the options trim or fade the audio."""
    values = (
        options.trim_start_seconds,
        options.trim_end_seconds,
        options.fade_in_seconds,
        options.fade_out_seconds,
    )
    return any(value for value in values)


def plan_edit(
    options: ConversionOptions, source_seconds: float, filename: str
) -> EditPlan:
    """Fit the trims and fades to a source that decodes to `source_seconds`.

    Raises InvalidOptions naming `filename` when the trims leave less than
    MIN_TRIMMED_SECONDS of audio or the fades are longer than what is left.
    """
    start = options.trim_start_seconds or 0.0
    end = options.trim_end_seconds or 0.0
    fade_in = options.fade_in_seconds or 0.0
    fade_out = options.fade_out_seconds or 0.0
    length = source_seconds - start - end
    if length <= 0:
        raise InvalidOptions(
            f"Trimming {_seconds(start)} s from the start and {_seconds(end)} s "
            f"from the end of {filename} leaves no audio: it lasts "
            f"{source_seconds:.3f} s."
        )
    if length < MIN_TRIMMED_SECONDS:
        raise InvalidOptions(
            f"Trimming {_seconds(start)} s from the start and {_seconds(end)} s "
            f"from the end of {filename} leaves less than "
            f"{_seconds(MIN_TRIMMED_SECONDS)} s of its {source_seconds:.3f} s; "
            f"trim less, so that at least {_seconds(MIN_TRIMMED_SECONDS)} s remains."
        )
    if fade_in + fade_out > length:
        raise InvalidOptions(
            f"The fades of {filename} ({_seconds(fade_in)} s in, "
            f"{_seconds(fade_out)} s out) are longer than the {length:.3f} s of "
            "audio left after trimming; shorten them."
        )
    return EditPlan(start=start, length=length, fade_in=fade_in, fade_out=fade_out)


@dataclass(frozen=True)
class LoudnessTarget:
    """An EBU R128 target: integrated loudness (LUFS) and true peak (dBTP)."""

    integrated: float
    true_peak: float

    @classmethod
    def from_options(cls, options: ConversionOptions) -> LoudnessTarget | None:
        if options.loudness_lufs is None:
            return None
        peak = options.true_peak_db
        return cls(
            integrated=options.loudness_lufs,
            true_peak=DEFAULT_TRUE_PEAK_DB if peak is None else peak,
        )

    def measure_filter(self) -> str:
        """Return the first-pass filter, which prints its measurements as JSON."""
        return (
            f"loudnorm=I={_number(self.integrated)}:TP={_number(self.true_peak)}"
            f":LRA={_number(_DEFAULT_LRA)}:print_format=json"
        )


@dataclass(frozen=True)
class LoudnessMeasurement:
    """Values measured by the first `loudnorm` pass."""

    integrated: float
    true_peak: float
    loudness_range: float
    threshold: float
    target_offset: float

    @property
    def is_silent(self) -> bool:
        return not math.isfinite(self.integrated)

    def apply_filter(self, target: LoudnessTarget) -> str:
        """Return the second-pass filter that applies these measurements.

        The range target is raised to the measured range (up to loudnorm's
        maximum) so that a wide-range recording still gets a linear gain. The
        filter prints what it produced as JSON (see `parse_loudnorm_result`).
        """
        rounded_up_lra = math.ceil(self.loudness_range * 10) / 10
        lra = min(max(_DEFAULT_LRA, rounded_up_lra), _MAX_LRA)
        # Each value clamped to the range loudnorm accepts for it.
        measured = {
            "measured_I": _clamp(self.integrated, -99, 0),
            "measured_TP": _clamp(self.true_peak, -99, 99),
            "measured_LRA": _clamp(self.loudness_range, 0, 99),
            "measured_thresh": _clamp(self.threshold, -99, 0),
            "offset": _clamp(self.target_offset, -99, 99),
        }
        return (
            f"loudnorm=I={_number(target.integrated)}"
            f":TP={_number(target.true_peak)}:LRA={_number(lra)}:"
            + ":".join(f"{name}={_number(value)}" for name, value in measured.items())
            + ":linear=true:print_format=json"
        )


def parse_loudnorm_output(log: str) -> LoudnessMeasurement | None:
    """Parse the JSON that `loudnorm` prints at its end, or return None."""
    matches = _JSON_OBJECT.findall(log)
    if not matches:
        return None
    try:
        values = json.loads(matches[-1])
        return LoudnessMeasurement(
            integrated=float(values["input_i"]),
            true_peak=float(values["input_tp"]),
            loudness_range=float(values["input_lra"]),
            threshold=float(values["input_thresh"]),
            target_offset=float(values["target_offset"]),
        )
    except (ValueError, KeyError, TypeError):
        return None


@dataclass(frozen=True)
class LoudnessResult:
    """What the applying `loudnorm` pass produced, from its JSON output."""

    integrated: float
    true_peak: float
    # "linear" for one constant gain, "dynamic" when loudnorm fell back.
    normalization_type: str


@dataclass(frozen=True)
class OutputLoudness:
    """Integrated loudness (LUFS) and true peak (dBTP) of the encoded output."""

    integrated: float
    true_peak: float


def parse_ebur128_summary(log: str) -> OutputLoudness | None:
    """Parse the summary that `ebur128=peak=true` prints at its end, or None."""
    start = log.rfind("Summary:")
    if start < 0:
        return None
    summary = log[start:]
    integrated = _EBUR128_INTEGRATED.search(summary)
    peak = _EBUR128_PEAK.search(summary)
    if integrated is None or peak is None:
        return None
    return OutputLoudness(float(integrated[1]), float(peak[1]))


def loudness_notes(
    target: LoudnessTarget,
    applied: LoudnessResult | None,
    output: OutputLoudness | None,
    filename: str,
    *,
    lossy: bool,
) -> tuple[str, ...]:
    """Return sentences for an output that misses the target or the ceiling.

    `applied` is what loudnorm produced and `output` what the encoded file
    measures. A miss of over 1 LU below the target that loudnorm itself
    made comes from its true-peak limiting; a later one from the encoding.
    """
    notes: list[str] = []
    measured = output.integrated if output is not None else None
    if measured is None and applied is not None:
        measured = applied.integrated
    if measured is None or not math.isfinite(measured):
        return ()

    miss = target.integrated - measured
    if abs(miss) > LOUDNESS_TOLERANCE_LU:
        side = "below" if miss > 0 else "above"
        reached = (
            f"{filename} reached {measured:.1f} LUFS, {abs(miss):.1f} LU {side} "
            f"the {target.integrated:g} LUFS target"
        )
        limited = applied is not None and (
            target.integrated - applied.integrated > LOUDNESS_TOLERANCE_LU / 2
        )
        if limited:
            notes.append(
                f"{reached}, because more gain would push its peaks over the "
                f"{target.true_peak:g} dBTP true-peak ceiling; raise the ceiling "
                "or lower the target to get closer."
            )
        else:
            notes.append(
                f"{reached}, because the fades or the encoder changed the "
                "loudness after normalising; a higher bitrate keeps it closer."
            )

    if output is not None and output.true_peak > target.true_peak + _PEAK_SLACK_DB:
        over = output.true_peak - target.true_peak
        cause = (
            "resampling and lossy encoding after loudnorm's limiter add peaks"
            if lossy
            else "resampling loudnorm's 192 kHz output adds peaks after its limiter"
        )
        notes.append(
            f"The true peak of {filename} reaches {output.true_peak:+.1f} dBTP, "
            f"{over:.1f} dB above the {target.true_peak:g} dBTP ceiling, because "
            f"{cause}; set the ceiling {math.ceil(over):.0f} dB lower to stay "
            "under it."
        )
    return tuple(notes)


def parse_loudnorm_result(log: str) -> LoudnessResult | None:
    """Parse the JSON of the applying `loudnorm` pass, or return None."""
    matches = _JSON_OBJECT.findall(log)
    if not matches:
        return None
    try:
        values = json.loads(matches[-1])
        return LoudnessResult(
            integrated=float(values["output_i"]),
            true_peak=float(values["output_tp"]),
            normalization_type=str(values["normalization_type"]),
        )
    except (ValueError, KeyError, TypeError):
        return None


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def _seconds(value: float) -> str:
    """Format seconds to the microsecond, and huge values in scientific notation."""
    if abs(value) >= 1e9:
        return f"{value:.3g}"
    return f"{value:.6f}".rstrip("0").rstrip(".") or "0"


def _number(value: float) -> str:
    return f"{value:.2f}"
