"""Output formats and the resolution of options each encoder can take.

A value an encoder cannot take (Opus at 44.1 kHz, MP3 above 48 kHz, MP3 with
more than two channels) is moved to the nearest valid one here. Each move is
recorded as a sentence for the job, so FFmpeg gets only valid requests for
the limits listed here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from backend.errors import InvalidOptions
from backend.jobs.model import ConversionOptions

MIN_SAMPLE_RATE = 8_000
MAX_SAMPLE_RATE = 384_000
MAX_CHANNELS = 8

_MP3_BITRATES = (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)
_MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
_AAC_RATES = (
    7350, 8000, 11025, 12000, 16000, 22050, 24000, 32000,
    44100, 48000, 64000, 88200, 96000,
)  # fmt: skip
_OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
_VORBIS_RATES = (
    8000, 11025, 16000, 22050, 32000, 44100, 48000, 88200, 96000, 176400, 192000,
)  # fmt: skip
# LAME's bitrates for MPEG-2 (16-24 kHz) and MPEG-2.5 (8-12 kHz) output.
_MP3_LOW_RATE_BITRATES = (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)
_MP3_LOWEST_RATE_BITRATES = (8, 16, 24, 32, 40, 48, 56, 64)
# Approximate Vorbis bitrate per quality level for 44.1 kHz stereo.
_VORBIS_QUALITY_KBPS = {
    -1: 45, 0: 64, 1: 80, 2: 96, 3: 112, 4: 128, 5: 160,
    6: 192, 7: 224, 8: 256, 9: 320, 10: 500,
}  # fmt: skip
# libopus takes at most this many kbit/s per channel.
_OPUS_MAX_KBPS_PER_CHANNEL = 256

BITRATE_MODES = ("cbr", "abr", "vbr")
# LAME's VBR quality used when VBR is chosen without a quality (about 190 kbit/s).
DEFAULT_MP3_VBR_QUALITY = 2.0
# Integrated loudness targets (LUFS) and true-peak ceilings (dBTP) accepted.
LOUDNESS_RANGE = (-70.0, -5.0)
TRUE_PEAK_RANGE = (-9.0, 0.0)
DEFAULT_TRUE_PEAK_DB = -1.5
# The RIFF INFO tags FFmpeg's WAV muxer writes, by FFmpeg's tag names.
_WAV_TAGS = (
    "album", "artist", "comment", "copyright", "date", "encoded_by", "genre",
    "language", "title", "track",
)  # fmt: skip
# WAV sample codecs by requested integer bit depth.
_WAV_CODECS = {16: "pcm_s16le", 24: "pcm_s24le", 32: "pcm_s32le"}


@dataclass(frozen=True)
class OutputFormat:
    """Encoder, muxer and option limits of one target format."""

    name: str
    label: str
    extension: str
    codec: str
    muxer: str
    media_type: str
    lossless: bool
    default_bitrate_kbps: int | None = None
    bitrate_range: tuple[int, int] | None = None
    bitrate_steps: Sequence[int] | None = None
    quality_range: tuple[float, float] | None = None
    sample_rates: Sequence[int] | None = None
    max_channels: int = MAX_CHANNELS
    holds_cover: bool = False
    bitrate_modes: Sequence[str] | None = None
    compression_levels: tuple[int, int] | None = None
    bit_depths: Sequence[int] | None = None
    holds_tags: bool = True
    # The only tags the container stores, or None when it takes any tag.
    tag_names: Sequence[str] | None = None


FORMATS: dict[str, OutputFormat] = {
    f.name: f
    for f in (
        OutputFormat(
            name="mp3",
            label="MP3",
            extension="mp3",
            codec="libmp3lame",
            muxer="mp3",
            media_type="audio/mpeg",
            lossless=False,
            default_bitrate_kbps=192,
            bitrate_range=(32, 320),
            bitrate_steps=_MP3_BITRATES,
            quality_range=(0, 9),
            sample_rates=_MP3_RATES,
            max_channels=2,
            holds_cover=True,
            bitrate_modes=BITRATE_MODES,
        ),
        OutputFormat(
            name="aac",
            label="AAC (M4A)",
            extension="m4a",
            codec="aac",
            muxer="ipod",
            media_type="audio/mp4",
            lossless=False,
            default_bitrate_kbps=192,
            bitrate_range=(16, 512),
            sample_rates=_AAC_RATES,
            holds_cover=True,
        ),
        OutputFormat(
            name="opus",
            label="Opus (Ogg)",
            extension="opus",
            codec="libopus",
            muxer="ogg",
            media_type="audio/ogg",
            lossless=False,
            default_bitrate_kbps=128,
            bitrate_range=(6, 510),
            sample_rates=_OPUS_RATES,
            # NOTE: libopus takes more channels only in a few layouts (a 4.0
            # source fails), so surround is mixed down to stereo for now.
            max_channels=2,
        ),
        OutputFormat(
            name="vorbis",
            label="Vorbis (Ogg)",
            extension="ogg",
            codec="libvorbis",
            muxer="ogg",
            media_type="audio/ogg",
            lossless=False,
            bitrate_range=(45, 500),
            quality_range=(-1, 10),
            sample_rates=_VORBIS_RATES,
        ),
        OutputFormat(
            name="flac",
            label="FLAC",
            extension="flac",
            codec="flac",
            muxer="flac",
            media_type="audio/flac",
            lossless=True,
            holds_cover=True,
            compression_levels=(0, 12),
            bit_depths=(16, 24),
        ),
        OutputFormat(
            name="wav",
            label="WAV",
            extension="wav",
            codec="pcm_s16le",
            muxer="wav",
            media_type="audio/wav",
            lossless=True,
            bit_depths=tuple(_WAV_CODECS),
            tag_names=_WAV_TAGS,
        ),
        OutputFormat(
            name="alac",
            label="ALAC (M4A)",
            extension="m4a",
            codec="alac",
            muxer="ipod",
            media_type="audio/mp4",
            lossless=True,
            holds_cover=True,
            bit_depths=(16, 24),
        ),
    )
}

# Vorbis quality 5 is about 160 kbit/s, the encoder's usual default.
DEFAULT_VORBIS_QUALITY = 5.0


@dataclass(frozen=True)
class SourceAudio:
    """Properties of the input's first audio stream that the encoder needs."""

    sample_rate: int | None
    channels: int | None
    bits_per_sample: int | None = None
    is_float: bool = False


@dataclass(frozen=True)
class EncoderSettings:
    """Resolved encoder arguments plus the sentences that explain each change."""

    output_format: OutputFormat
    codec: str
    bitrate_kbps: int | None
    quality: float | None
    sample_rate: int | None
    channels: int | None
    adjustments: tuple[str, ...]
    # LAME's average bitrate mode: `bitrate_kbps` is a target, not a constant.
    average_bitrate: bool = False
    compression_level: int | None = None
    # FLAC and ALAC sample format and bits actually stored, when requested.
    sample_format: str | None = None
    bits_per_raw_sample: int | None = None
    # Triangular dither when a requested bit depth cuts the source's.
    dither: bool = False

    def ffmpeg_args(self) -> list[str]:
        """Return the output-side FFmpeg arguments for these settings."""
        args = ["-c:a", self.codec]
        if self.bitrate_kbps is not None:
            args += ["-b:a", f"{self.bitrate_kbps}k"]
        if self.average_bitrate:
            args += ["-abr", "1"]
        if self.quality is not None:
            args += ["-q:a", _format_number(self.quality)]
        if self.compression_level is not None:
            args += ["-compression_level", str(self.compression_level)]
        if self.sample_format is not None:
            args += ["-sample_fmt", self.sample_format]
        if self.bits_per_raw_sample is not None:
            args += ["-bits_per_raw_sample", str(self.bits_per_raw_sample)]
        if self.dither:
            args += ["-dither_method", "triangular"]
        if self.sample_rate is not None:
            args += ["-ar", str(self.sample_rate)]
        if self.channels is not None:
            args += ["-ac", str(self.channels)]
        return args


def get_format(name: str) -> OutputFormat:
    """Return the format called `name`; raise InvalidOptions listing valid ones."""
    try:
        return FORMATS[name.lower()]
    except KeyError:
        valid = ", ".join(FORMATS)
        raise InvalidOptions(
            f"Unknown output format {name!r}; choose one of: {valid}."
        ) from None


def validate_options(options: ConversionOptions) -> None:
    """Reject values no encoder could take; raise InvalidOptions naming the value.

    Values that are plausible but not valid for the chosen encoder are not
    rejected here; `resolve_encoder` moves them to the nearest valid value.
    """
    fmt = get_format(options.format)
    if options.bitrate_kbps is not None:
        if fmt.lossless:
            raise InvalidOptions(
                f"{fmt.label} is lossless and takes no bitrate; "
                f"remove the bitrate ({options.bitrate_kbps} kbit/s)."
            )
        if not 1 <= options.bitrate_kbps <= 1_000:
            raise InvalidOptions(
                f"Bitrate {options.bitrate_kbps} kbit/s is invalid; "
                "use a value from 1 to 1000 (each format then takes the "
                "nearest bitrate it supports)."
            )
    if options.quality is not None:
        if fmt.quality_range is None:
            raise InvalidOptions(
                f"{fmt.label} takes no quality setting; use a bitrate instead."
            )
        low, high = fmt.quality_range
        if not low <= options.quality <= high:
            raise InvalidOptions(
                f"Quality {_format_number(options.quality)} is invalid for "
                f"{fmt.label}; use a value from {_format_number(low)} "
                f"to {_format_number(high)}."
            )
    if options.bitrate_kbps is not None and options.quality is not None:
        raise InvalidOptions("Set either a bitrate or a quality, not both.")
    if options.sample_rate is not None and not (
        MIN_SAMPLE_RATE <= options.sample_rate <= MAX_SAMPLE_RATE
    ):
        raise InvalidOptions(
            f"Sample rate {options.sample_rate} Hz is invalid; "
            f"use a value from {MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE} Hz."
        )
    if options.channels is not None and not 1 <= options.channels <= MAX_CHANNELS:
        raise InvalidOptions(
            f"Channel count {options.channels} is invalid; "
            f"use a value from 1 to {MAX_CHANNELS}."
        )
    _validate_encoder_modes(fmt, options)
    _validate_loudness(options)
    _validate_edits(options)


def _validate_encoder_modes(fmt: OutputFormat, options: ConversionOptions) -> None:
    """Reject a bitrate mode, compression level or bit depth the format lacks."""
    mode = options.bitrate_mode
    if mode is not None:
        if fmt.bitrate_modes is None:
            raise InvalidOptions(
                f"{fmt.label} takes no bitrate mode; only MP3 offers CBR, ABR "
                "and VBR. Remove the bitrate mode."
            )
        if mode not in fmt.bitrate_modes:
            raise InvalidOptions(
                f"Bitrate mode {mode!r} is invalid; use one of: "
                f"{', '.join(fmt.bitrate_modes)}."
            )
        if mode == "vbr" and options.bitrate_kbps is not None:
            raise InvalidOptions(
                "VBR is set by quality, not by bitrate; remove the bitrate "
                "or choose CBR or ABR."
            )
        if mode != "vbr" and options.quality is not None:
            raise InvalidOptions(
                f"{mode.upper()} is set by bitrate, not by quality; remove the "
                "quality or choose VBR."
            )

    level = options.compression_level
    if level is not None:
        if fmt.compression_levels is None:
            raise InvalidOptions(
                f"{fmt.label} takes no compression level; only FLAC does."
            )
        low, high = fmt.compression_levels
        if not low <= level <= high:
            raise InvalidOptions(
                f"Compression level {level} is invalid for {fmt.label}; "
                f"use a value from {low} to {high}."
            )

    depth = options.bit_depth
    if depth is not None and (fmt.bit_depths is None or depth not in fmt.bit_depths):
        if fmt.bit_depths is None:
            raise InvalidOptions(
                f"{fmt.label} takes no bit depth; only WAV, FLAC and ALAC do."
            )
        choices = ", ".join(str(bits) for bits in fmt.bit_depths)
        raise InvalidOptions(
            f"Bit depth {depth} is invalid for {fmt.label}; use one of: {choices}."
        )


def _validate_loudness(options: ConversionOptions) -> None:
    target = options.loudness_lufs
    peak = options.true_peak_db
    if target is not None:
        low, high = LOUDNESS_RANGE
        if not math.isfinite(target) or not low <= target <= high:
            raise InvalidOptions(
                f"Loudness target {_format_number(target)} LUFS is invalid; "
                f"use a value from {_format_number(low)} to {_format_number(high)} "
                "LUFS (-14 suits streaming, -23 broadcast)."
            )
    if peak is not None:
        if target is None:
            raise InvalidOptions(
                "A true-peak ceiling applies only to loudness normalisation; "
                "set a loudness target too, or remove the ceiling."
            )
        low, high = TRUE_PEAK_RANGE
        if not math.isfinite(peak) or not low <= peak <= high:
            raise InvalidOptions(
                f"True-peak ceiling {_format_number(peak)} dBTP is invalid; "
                f"use a value from {_format_number(low)} to {_format_number(high)} "
                "dBTP."
            )


_EDIT_NAMES = {
    "trim_start_seconds": "Trim at the start",
    "trim_end_seconds": "Trim at the end",
    "fade_in_seconds": "Fade-in",
    "fade_out_seconds": "Fade-out",
}


def _validate_edits(options: ConversionOptions) -> None:
    """Reject negative or non-finite trims and fades.

    Whether they leave any audio depends on the file's length, which the
    converter checks once it has decoded the file.
    """
    for field_name, label in _EDIT_NAMES.items():
        value = getattr(options, field_name)
        if value is None:
            continue
        if not math.isfinite(value) or value < 0:
            raise InvalidOptions(
                f"{label} of {_format_number(value)} s is invalid; use a number "
                "of seconds of 0 or more."
            )


def resolve_encoder(options: ConversionOptions, source: SourceAudio) -> EncoderSettings:
    """Turn the user's options into settings the encoder accepts for this input."""
    validate_options(options)
    fmt = get_format(options.format)
    adjustments: list[str] = []

    sample_rate = _resolve_sample_rate(fmt, options.sample_rate, source, adjustments)
    channels = _resolve_channels(fmt, options.channels, source, adjustments)
    output_rate = sample_rate or source.sample_rate
    output_channels = channels or source.channels
    bitrate, quality = _resolve_rate_control(
        fmt, options, output_rate, output_channels, adjustments
    )
    codec = _resolve_codec(fmt, source, options.bit_depth)
    sample_format, raw_bits = _resolve_sample_format(fmt, options.bit_depth, source)
    dither = _needs_dither(fmt, options, source)

    return EncoderSettings(
        output_format=fmt,
        codec=codec,
        bitrate_kbps=bitrate,
        quality=quality,
        sample_rate=sample_rate,
        channels=channels,
        adjustments=tuple(adjustments),
        average_bitrate=options.bitrate_mode == "abr",
        compression_level=options.compression_level,
        sample_format=sample_format,
        bits_per_raw_sample=raw_bits,
        dither=dither,
    )


def _resolve_rate_control(
    fmt: OutputFormat,
    options: ConversionOptions,
    output_rate: int | None,
    output_channels: int | None,
    adjustments: list[str],
) -> tuple[int | None, float | None]:
    if fmt.lossless:
        return None, None
    if options.quality is not None:
        return None, options.quality
    if options.bitrate_mode == "vbr":
        return None, DEFAULT_MP3_VBR_QUALITY
    if fmt.name == "vorbis":
        return None, _vorbis_quality(options.bitrate_kbps, adjustments)

    requested = options.bitrate_kbps or fmt.default_bitrate_kbps
    assert requested is not None
    resolved = requested
    steps = _bitrate_steps(fmt, output_rate)
    if steps is not None:
        resolved = _nearest(requested, steps)
    elif fmt.bitrate_range is not None:
        low, high = fmt.bitrate_range
        if fmt.name == "opus" and output_channels:
            high = min(high, _OPUS_MAX_KBPS_PER_CHANNEL * output_channels)
        resolved = min(max(requested, low), high)
    if resolved != requested:
        adjustments.append(
            f"{fmt.label} cannot encode at {requested} kbit/s; "
            f"used {resolved} kbit/s instead."
        )
    return resolved, None


def _bitrate_steps(fmt: OutputFormat, output_rate: int | None) -> Sequence[int] | None:
    """Return the bitrates the encoder takes at this output sample rate."""
    if fmt.name != "mp3" or output_rate is None or output_rate >= 32_000:
        return fmt.bitrate_steps
    if output_rate >= 16_000:
        return _MP3_LOW_RATE_BITRATES
    return _MP3_LOWEST_RATE_BITRATES


def _vorbis_quality(bitrate_kbps: int | None, adjustments: list[str]) -> float:
    """Vorbis is encoded by quality; a requested bitrate picks the nearest level."""
    if bitrate_kbps is None:
        return DEFAULT_VORBIS_QUALITY
    level = min(
        _VORBIS_QUALITY_KBPS,
        key=lambda q: abs(_VORBIS_QUALITY_KBPS[q] - bitrate_kbps),
    )
    adjustments.append(
        f"Vorbis is encoded by quality; {bitrate_kbps} kbit/s was mapped to "
        f"quality {level} (about {_VORBIS_QUALITY_KBPS[level]} kbit/s for stereo)."
    )
    return float(level)


def _resolve_sample_rate(
    fmt: OutputFormat,
    requested: int | None,
    source: SourceAudio,
    adjustments: list[str],
) -> int | None:
    wanted = requested if requested is not None else source.sample_rate
    if wanted is None or fmt.sample_rates is None:
        return requested
    if wanted in fmt.sample_rates:
        return requested
    if requested is not None:
        resolved = _nearest(wanted, fmt.sample_rates, prefer_higher=True)
    else:
        # Take the next rate up if there is one, so the source's bandwidth is kept.
        higher = [rate for rate in fmt.sample_rates if rate >= wanted]
        resolved = min(higher) if higher else max(fmt.sample_rates)
    origin = "the requested" if requested is not None else "the source's"
    adjustments.append(
        f"{fmt.label} does not support {origin} sample rate of {wanted} Hz; "
        f"used {resolved} Hz instead."
    )
    return resolved


def _resolve_channels(
    fmt: OutputFormat,
    requested: int | None,
    source: SourceAudio,
    adjustments: list[str],
) -> int | None:
    wanted = requested if requested is not None else source.channels
    if wanted is None or wanted <= fmt.max_channels:
        return requested
    origin = "the requested" if requested is not None else "the source's"
    adjustments.append(
        f"{fmt.label} holds at most {fmt.max_channels} channels; "
        f"mixed {origin} {wanted} channels down to {fmt.max_channels}."
    )
    return fmt.max_channels


def _resolve_codec(fmt: OutputFormat, source: SourceAudio, depth: int | None) -> str:
    """Pick the requested WAV bit depth, else keep a high-resolution source's.

    Without a requested depth, a float source stays float in WAV.
    """
    bits = source.bits_per_sample
    if fmt.name == "wav" and depth is not None:
        return _WAV_CODECS[depth]
    if fmt.name != "wav" or bits is None:
        return fmt.codec
    if source.is_float:
        return "pcm_f64le" if bits > 32 else "pcm_f32le"
    if 16 < bits <= 24:
        return "pcm_s24le"
    if bits > 24:
        return "pcm_s32le"
    return fmt.codec


def _source_integer_depth(source: SourceAudio) -> int | None:
    """Return the bit depth of an integer source: 16 or 24, else None."""
    bits = source.bits_per_sample
    if source.is_float or bits is None or bits > 24:
        return None
    return 16 if bits <= 16 else 24


def _needs_dither(
    fmt: OutputFormat, options: ConversionOptions, source: SourceAudio
) -> bool:
    """Return True when 16-bit output is cut from more precise samples.

    That is a 16-bit request for a deeper or float source, or a 16-bit
    lossless source whose loudness is normalised, because loudnorm computes
    in floating point.
    """
    bits = source.bits_per_sample
    if options.bit_depth == 16:
        return source.is_float or bits is None or bits > 16
    keeps_16_bits = (
        options.bit_depth is None
        and fmt.lossless
        and _source_integer_depth(source) == 16
    )
    return keeps_16_bits and options.loudness_lufs is not None


def _resolve_sample_format(
    fmt: OutputFormat, depth: int | None, source: SourceAudio
) -> tuple[str | None, int | None]:
    """Return FLAC's or ALAC's sample format and stored bits for a bit depth.

    Without a requested depth, an integer source's 16 or 24 bits are kept,
    because filters such as loudnorm output floats that FFmpeg would
    otherwise store as 32-bit samples. Both encoders store 24-bit audio in
    32-bit samples, so the stored bit count is passed on its own.
    """
    if fmt.name not in ("flac", "alac"):
        return None, None
    if depth is None:
        depth = _source_integer_depth(source)
    if depth is None:
        return None, None
    planar = "p" if fmt.name == "alac" else ""
    if depth == 16:
        return f"s16{planar}", None
    return f"s32{planar}", depth


def stores_integers(settings: EncoderSettings) -> bool:
    """Return True when the output stores integers, which stop at full scale."""
    return settings.output_format.lossless and not settings.codec.startswith("pcm_f")


def _nearest(value: int, choices: Sequence[int], prefer_higher: bool = False) -> int:
    """Return the choice closest to `value`; ties go up when `prefer_higher`."""

    def distance(choice: int) -> tuple[int, int]:
        tie_break = -choice if prefer_higher else choice
        return abs(choice - value), tie_break

    return min(choices, key=distance)


def _format_number(value: float) -> str:
    return f"{value:g}"
