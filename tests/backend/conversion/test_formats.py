from __future__ import annotations

from typing import get_args

import pytest

from backend.api.routes.jobs import FormatName
from backend.conversion.formats import FORMATS, SourceAudio, resolve_encoder
from backend.errors import InvalidOptions
from backend.jobs.model import ConversionOptions

CD_STEREO = SourceAudio(sample_rate=44_100, channels=2, bits_per_sample=16)


def test_every_format_has_valid_defaults() -> None:
    for name in FORMATS:
        settings = resolve_encoder(ConversionOptions(format=name), CD_STEREO)
        assert settings.output_format.name == name
        assert settings.codec


def test_opus_source_rate_moves_up_to_48k() -> None:
    settings = resolve_encoder(ConversionOptions(format="opus"), CD_STEREO)
    assert settings.sample_rate == 48_000
    assert len(settings.adjustments) == 1
    assert "44100 Hz" in settings.adjustments[0]


def test_opus_requested_rate_snaps_to_nearest() -> None:
    options = ConversionOptions(format="opus", sample_rate=44_100)
    settings = resolve_encoder(options, CD_STEREO)
    assert settings.sample_rate == 48_000
    assert "requested" in settings.adjustments[0]


def test_mp3_above_48k_becomes_48k() -> None:
    source = SourceAudio(sample_rate=192_000, channels=2)
    settings = resolve_encoder(ConversionOptions(format="mp3"), source)
    assert settings.sample_rate == 48_000
    assert settings.adjustments


def test_mp3_supported_rate_is_kept() -> None:
    settings = resolve_encoder(ConversionOptions(format="mp3"), CD_STEREO)
    assert settings.sample_rate is None
    assert settings.adjustments == ()


def test_mp3_downmixes_surround_to_stereo() -> None:
    source = SourceAudio(sample_rate=48_000, channels=6)
    settings = resolve_encoder(ConversionOptions(format="mp3"), source)
    assert settings.channels == 2
    assert "6 channels" in settings.adjustments[0]


def test_mp3_bitrate_snaps_to_standard_step() -> None:
    options = ConversionOptions(format="mp3", bitrate_kbps=200)
    settings = resolve_encoder(options, CD_STEREO)
    assert settings.bitrate_kbps == 192
    assert "200 kbit/s" in settings.adjustments[0]


def test_aac_bitrate_clamps_to_range() -> None:
    options = ConversionOptions(format="aac", bitrate_kbps=900)
    settings = resolve_encoder(options, CD_STEREO)
    assert settings.bitrate_kbps == 512


def test_vorbis_defaults_to_quality() -> None:
    settings = resolve_encoder(ConversionOptions(format="vorbis"), CD_STEREO)
    assert settings.bitrate_kbps is None
    assert settings.quality == 5.0
    assert "-q:a" in settings.ffmpeg_args()


def test_wav_keeps_24_bit_source() -> None:
    source = SourceAudio(sample_rate=96_000, channels=2, bits_per_sample=24)
    settings = resolve_encoder(ConversionOptions(format="wav"), source)
    assert settings.codec == "pcm_s24le"


def test_wav_from_lossy_source_is_16_bit() -> None:
    source = SourceAudio(sample_rate=44_100, channels=2, bits_per_sample=None)
    settings = resolve_encoder(ConversionOptions(format="wav"), source)
    assert settings.codec == "pcm_s16le"


def test_ffmpeg_args_carry_every_option() -> None:
    options = ConversionOptions(
        format="aac", bitrate_kbps=128, sample_rate=32_000, channels=1
    )
    args = resolve_encoder(options, CD_STEREO).ffmpeg_args()
    assert args == ["-c:a", "aac", "-b:a", "128k", "-ar", "32000", "-ac", "1"]


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (ConversionOptions(format="mp4a"), "Unknown output format"),
        (ConversionOptions(format="flac", bitrate_kbps=320), "lossless"),
        (ConversionOptions(format="mp3", bitrate_kbps=0), "Bitrate 0"),
        (ConversionOptions(format="mp3", quality=12), "Quality 12"),
        (ConversionOptions(format="opus", quality=5), "no quality"),
        (ConversionOptions(format="mp3", sample_rate=100), "Sample rate 100"),
        (ConversionOptions(format="mp3", channels=0), "Channel count 0"),
        (ConversionOptions(format="mp3", channels=9), "Channel count 9"),
        (
            ConversionOptions(format="mp3", bitrate_kbps=128, quality=2),
            "either a bitrate or a quality",
        ),
    ],
)
def test_invalid_options_are_rejected(
    options: ConversionOptions, fragment: str
) -> None:
    with pytest.raises(InvalidOptions) as caught:
        resolve_encoder(options, CD_STEREO)
    assert fragment in caught.value.message


def test_mp3_low_rate_caps_bitrate() -> None:
    options = ConversionOptions(format="mp3", bitrate_kbps=320, sample_rate=8_000)
    settings = resolve_encoder(options, CD_STEREO)
    assert settings.bitrate_kbps == 64
    assert "320 kbit/s" in settings.adjustments[0]


def test_mp3_mpeg2_rate_caps_bitrate() -> None:
    options = ConversionOptions(format="mp3", bitrate_kbps=320, sample_rate=22_050)
    assert resolve_encoder(options, CD_STEREO).bitrate_kbps == 160


def test_opus_mono_bitrate_capped_per_channel() -> None:
    options = ConversionOptions(format="opus", bitrate_kbps=510, channels=1)
    settings = resolve_encoder(options, CD_STEREO)
    assert settings.bitrate_kbps == 256
    assert settings.adjustments


def test_opus_downmixes_surround() -> None:
    source = SourceAudio(sample_rate=48_000, channels=4)
    settings = resolve_encoder(ConversionOptions(format="opus"), source)
    assert settings.channels == 2


def test_vorbis_bitrate_maps_to_quality() -> None:
    options = ConversionOptions(format="vorbis", bitrate_kbps=190)
    settings = resolve_encoder(options, CD_STEREO)
    assert settings.bitrate_kbps is None
    assert settings.quality == 6.0
    assert "quality 6" in settings.adjustments[0]


def test_vorbis_rate_capped_at_192k() -> None:
    options = ConversionOptions(format="vorbis", sample_rate=384_000)
    assert resolve_encoder(options, CD_STEREO).sample_rate == 192_000


def test_api_schema_lists_every_format() -> None:
    assert set(get_args(FormatName)) == set(FORMATS)
