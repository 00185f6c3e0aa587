"""Progress of a conversion over its FFmpeg passes, as percent and time left."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from backend.conversion.ffmpeg import FfmpegProgress

# Progress reported for a fully encoded but not yet verified output; 100 is
# kept for the moment the job store has committed the job as completed.
ENCODED_PERCENT = 99.0
# Estimated run time of each pass relative to the encode's, which sets its
# share of the progress bar and the time left after it. On 300 s of stereo
# pink noise (44.1 kHz WAV and 192 kbit/s MP3, FFmpeg 9.0), decoding took
# 0.2-0.8 s, loudnorm's measuring pass (which upsamples to 192 kHz) 11-13 s,
# and an MP3 encode with the measured gain 3.5-4.5 s. A 15-minute float WAV
# to FLAC spent about 3 of 5.7 s in the peak check, and 300 s of float pink
# noise 0.2 of 0.6 s (2 cores, FFmpeg 9.0), so the weights are estimates.
_LENGTH_PASS_WEIGHT = 0.15
_CLIPPING_PASS_WEIGHT = 0.8
_MEASURE_PASS_WEIGHT = 2.2
_ENCODE_PASS_WEIGHT = 1.0


@dataclass(frozen=True)
class ConversionUpdate:
    """Progress of the running FFmpeg, in the job's terms."""

    percent: float
    eta_seconds: float | None
    speed: float | None


@dataclass(frozen=True)
class PassSpan:
    """The part of the progress bar one pass fills, in percent.

    `later_ratio` is the estimated run time of the passes after this one
    divided by this pass's run time.
    """

    start: float
    size: float
    later_ratio: float = 0.0


class PassSpans:
    """Splits the progress bar up to ENCODED_PERCENT between the passes.

    Each pass gets a share in proportion to its estimated run time, in the
    order the converter runs them: peak check, length, measure, encode.
    """

    def __init__(
        self, *, length_pass: bool, clipping_pass: bool, measure_pass: bool
    ) -> None:
        weights = [
            _CLIPPING_PASS_WEIGHT if clipping_pass else 0.0,
            _LENGTH_PASS_WEIGHT if length_pass else 0.0,
            _MEASURE_PASS_WEIGHT if measure_pass else 0.0,
            _ENCODE_PASS_WEIGHT,
        ]
        total = sum(weights)
        spans: list[PassSpan] = []
        start = 0.0
        for index, weight in enumerate(weights):
            size = weight / total * ENCODED_PERCENT
            later = sum(weights[index + 1 :])
            spans.append(PassSpan(start, size, later / weight if weight else 0.0))
            start += size
        self.clipping = spans[0] if clipping_pass else None
        self.length = spans[1] if length_pass else None
        self.measure = spans[2] if measure_pass else None
        self.encode = spans[3]


class ProgressTracker:
    """Turns FFmpeg's media time into a percentage, an ETA and a speed.

    The percentage fills `span`, the pass's part of the progress bar. The ETA
    covers the rest of this pass and the passes after it, estimated from this
    pass's speed and the span's `later_ratio`.
    """

    def __init__(
        self,
        duration: float | None,
        on_update: Callable[[ConversionUpdate], None] | None,
        span: PassSpan = PassSpan(0.0, ENCODED_PERCENT),
    ) -> None:
        self._duration = duration if duration and duration > 0 else None
        self._on_update = on_update
        self._span = span
        self._started = time.monotonic()

    def update(self, progress: FfmpegProgress) -> None:
        if self._on_update is None or progress.out_time_seconds is None:
            return
        elapsed = time.monotonic() - self._started
        done = progress.out_time_seconds
        speed = progress.speed
        if speed is None and elapsed > 0:
            speed = done / elapsed
        percent = self._span.start
        eta = None
        if self._duration is not None:
            fraction = min(done / self._duration, 1.0)
            percent += fraction * self._span.size
            if speed:
                this_pass = max(self._duration - done, 0.0) / speed
                later_passes = self._duration / speed * self._span.later_ratio
                eta = this_pass + later_passes
        self._on_update(ConversionUpdate(percent=percent, eta_seconds=eta, speed=speed))
