"""Inputs from phones, DAWs and broken downloads: convert right or fail clearly."""

from __future__ import annotations

import re
import struct
import subprocess
from pathlib import Path

import pytest

from backend.conversion.converter import Converter
from backend.conversion.progress import ConversionUpdate
from backend.errors import InvalidInput
from backend.jobs.model import ConversionOptions
from tests.helpers.audio import FFMPEG, decoded_duration, make_tone, stream_summary


@pytest.fixture
def converter(tmp_path: Path) -> Converter:
    return Converter(FFMPEG, tmp_path / "work")


def _ffmpeg(*args: str) -> None:
    subprocess.run(
        [FFMPEG, "-hide_banner", "-v", "error", "-y", *args],
        check=True,
        capture_output=True,
        timeout=120,
    )


def _mean_volume_db(path: Path) -> float:
    completed = subprocess.run(
        [FFMPEG, "-hide_banner", "-i", str(path), "-af", "volumedetect",
         "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )  # fmt: skip
    match = re.search(r"mean_volume: (-?[\d.]+) dB", completed.stderr)
    assert match is not None, completed.stderr
    return float(match[1])


def _assert_same_length(result_path: Path, source: Path) -> None:
    expected = decoded_duration(source)
    actual = decoded_duration(result_path)
    assert expected is not None
    assert actual is not None
    assert abs(expected - actual) <= max(expected * 0.005, 0.05)


@pytest.mark.parametrize("cut", ["flac", "mp3"])
def test_truncated_file_fails_clearly(
    converter: Converter, tmp_path: Path, cut: str
) -> None:
    full = make_tone(tmp_path / f"full.{cut}", seconds=10.0)
    data = full.read_bytes()
    truncated = tmp_path / f"half.{cut}"
    truncated.write_bytes(data[: len(data) // 3])
    with pytest.raises(InvalidInput) as caught:
        converter.convert(truncated, f"half.{cut}", ConversionOptions("wav"))
    assert caught.value.code == "truncated"
    assert f"half.{cut}" in caught.value.message
    assert list((tmp_path / "work").iterdir()) == []


def test_vbr_mp3_without_xing_converts(converter: Converter, tmp_path: Path) -> None:
    source = tmp_path / "vbr.mp3"
    _ffmpeg(
        "-f", "lavfi", "-i", "sine=f=300:d=20,volume=enable='gt(t,10)':volume=0.1",
        "-c:a", "libmp3lame", "-q:a", "2", "-write_xing", "0", str(source),
    )  # fmt: skip
    updates: list[ConversionUpdate] = []
    result = converter.convert(
        source, "vbr.mp3", ConversionOptions("flac"), on_update=updates.append
    )
    _assert_same_length(result.path, source)
    assert all(update.percent < 100 for update in updates)
    assert all(
        update.eta_seconds is None or update.eta_seconds >= 0 for update in updates
    )


@pytest.mark.parametrize("container", ["ogg", "webm"])
def test_stream_without_duration_converts(
    converter: Converter, tmp_path: Path, container: str
) -> None:
    source = tmp_path / f"live.{container}"
    codec = "libvorbis" if container == "ogg" else "libopus"
    with open(source, "wb") as handle:
        subprocess.run(
            [FFMPEG, "-v", "error", "-f", "lavfi", "-i", "sine=d=4", "-c:a", codec,
             "-f", container, "pipe:1"],
            stdout=handle,
            check=True,
            timeout=60,
        )  # fmt: skip
    result = converter.convert(source, source.name, ConversionOptions("mp3"))
    _assert_same_length(result.path, source)


def test_unsigned_8_bit_wav_converts(converter: Converter, tmp_path: Path) -> None:
    source = make_tone(tmp_path / "old.wav", 2.0, extra=["-c:a", "pcm_u8"])
    result = converter.convert(source, "old.wav", ConversionOptions("flac"))
    _assert_same_length(result.path, source)


def _extensible_wav(path: Path, pcm: bytes, rate: int, channels: int) -> Path:
    """Write 16-bit PCM as a WAVE_FORMAT_EXTENSIBLE file with a 5.1 channel mask."""
    pcm_subformat = bytes.fromhex("0100000000001000800000aa00389b71")
    block_align = channels * 2
    fmt = struct.pack(
        "<HHIIHHHHI16s",
        0xFFFE, channels, rate, rate * block_align, block_align, 16,
        22, 16, 0x3F, pcm_subformat,
    )  # fmt: skip
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(pcm)) + pcm
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def test_centre_channel_survives_downmix(converter: Converter, tmp_path: Path) -> None:
    raw = subprocess.run(
        [FFMPEG, "-v", "error", "-f", "lavfi", "-i", "sine=f=500:d=2:sample_rate=48000",
         "-af", "pan=5.1|FC=c0", "-f", "s16le", "pipe:1"],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout  # fmt: skip
    source = _extensible_wav(tmp_path / "dialogue.wav", raw, 48_000, 6)
    assert source.read_bytes()[20:22] == b"\xfe\xff"  # WAVE_FORMAT_EXTENSIBLE
    assert "5.1" in stream_summary(source)
    result = converter.convert(source, "dialogue.wav", ConversionOptions("mp3"))
    assert "stereo" in stream_summary(result.path)
    assert result.adjustments
    # Silence measures about -91 dB; the mixed-down centre lands near -32 dB.
    assert _mean_volume_db(result.path) > -45


def test_quad_input_becomes_stereo_mp3(converter: Converter, tmp_path: Path) -> None:
    source = make_tone(tmp_path / "quad.flac", 1.0, channels=4)
    result = converter.convert(source, "quad.flac", ConversionOptions("mp3"))
    assert "stereo" in stream_summary(result.path)
    _assert_same_length(result.path, source)


@pytest.mark.parametrize("rate", [96_000, 192_000])
@pytest.mark.parametrize("target", ["mp3", "opus"])
def test_high_rate_input_converts(
    converter: Converter, tmp_path: Path, rate: int, target: str
) -> None:
    source = make_tone(tmp_path / f"hires-{rate}.flac", 1.0, rate=rate)
    result = converter.convert(source, source.name, ConversionOptions(target))
    assert "48000 Hz" in stream_summary(result.path)
    _assert_same_length(result.path, source)


@pytest.mark.parametrize("target", ["flac", "wav", "alac"])
def test_lossless_keeps_24_bit(
    converter: Converter, tmp_path: Path, target: str
) -> None:
    source = make_tone(tmp_path / "studio.wav", 1.0, extra=["-c:a", "pcm_s24le"])
    result = converter.convert(source, "studio.wav", ConversionOptions(target))
    summary = stream_summary(result.path)
    assert "24 bit" in summary or "s24" in summary or "pcm_s24le" in summary


def _streams(path: Path) -> str:
    completed = subprocess.run(
        [FFMPEG, "-hide_banner", "-i", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return completed.stderr


@pytest.fixture(params=["mp3", "flac", "m4a"])
def with_cover(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    suffix: str = request.param
    cover = tmp_path / "cover.png"
    _ffmpeg("-f", "lavfi", "-i", "color=c=red:s=64x64", "-frames:v", "1", str(cover))
    tone = make_tone(tmp_path / "plain.wav", 2.0)
    source = tmp_path / f"album.{suffix}"
    codec = {"mp3": "libmp3lame", "flac": "flac", "m4a": "aac"}[suffix]
    _ffmpeg(
        "-i", str(tone), "-i", str(cover), "-map", "0:a", "-map", "1:v",
        "-c:a", codec, "-c:v", "png", "-disposition:v", "attached_pic", str(source),
    )  # fmt: skip
    assert "(attached pic)" in _streams(source)
    return source


@pytest.mark.parametrize("target", ["mp3", "flac", "aac", "alac"])
def test_cover_is_carried_over(
    converter: Converter, with_cover: Path, target: str
) -> None:
    result = converter.convert(with_cover, with_cover.name, ConversionOptions(target))
    streams = _streams(result.path)
    assert "(attached pic)" in streams
    assert streams.count("Video:") == 1
    assert result.adjustments == ()
    _assert_same_length(result.path, with_cover)


@pytest.mark.parametrize("target", ["opus", "vorbis", "wav"])
def test_cover_is_dropped_with_note(
    converter: Converter, with_cover: Path, target: str
) -> None:
    result = converter.convert(with_cover, with_cover.name, ConversionOptions(target))
    assert "Video:" not in _streams(result.path)
    assert any("cover picture" in note for note in result.adjustments)


@pytest.fixture
def hot_float_wav(tmp_path: Path) -> Path:
    """A 32-bit float WAV whose peaks are 6 dB above full scale."""
    source = tmp_path / "hot.wav"
    _ffmpeg(
        "-f", "lavfi", "-i", "sine=f=440:d=1", "-af", "volume=16",
        "-c:a", "pcm_f32le", str(source),
    )  # fmt: skip
    return source


def test_float_wav_stays_float(converter: Converter, hot_float_wav: Path) -> None:
    result = converter.convert(hot_float_wav, "hot.wav", ConversionOptions("wav"))
    assert "pcm_f32le" in stream_summary(result.path)
    assert result.adjustments == ()


@pytest.mark.parametrize("target", ["flac", "alac"])
def test_float_overs_are_reported(
    converter: Converter, hot_float_wav: Path, target: str
) -> None:
    result = converter.convert(hot_float_wav, "hot.wav", ConversionOptions(target))
    assert any("above full scale" in note for note in result.adjustments)


def test_quiet_float_has_no_warning(converter: Converter, tmp_path: Path) -> None:
    source = make_tone(tmp_path / "quiet.wav", 1.0, extra=["-c:a", "pcm_f32le"])
    result = converter.convert(source, "quiet.wav", ConversionOptions("flac"))
    assert result.adjustments == ()


def test_picture_file_is_rejected(converter: Converter, tmp_path: Path) -> None:
    picture = tmp_path / "cover.mp3"
    _ffmpeg("-f", "lavfi", "-i", "color=c=blue:s=32x32", "-frames:v", "1",
            "-f", "image2", "-c:v", "png", str(picture))  # fmt: skip
    with pytest.raises(InvalidInput) as caught:
        converter.convert(picture, "cover.mp3", ConversionOptions("flac"))
    assert caught.value.code in ("unsupported_format", "no_audio_stream")
    assert "cover.mp3" in caught.value.message


def test_tags_cannot_fake_probe_lines(tmp_path: Path) -> None:
    converter = Converter(FFMPEG, tmp_path / "work", max_duration_seconds=5.0)
    source = make_tone(
        tmp_path / "liar.flac",
        8.0,
        rate=8_000,
        channels=1,
        extra=[
            "-metadata", "title=x\n  Duration: 00:00:01.00, start=x",
            "-metadata", "comment=  Stream #0:0: Audio: pcm_s16le, 96000 Hz, 7.1, flt",
        ],
    )  # fmt: skip
    with pytest.raises(InvalidInput) as caught:
        converter.convert(source, "liar.flac", ConversionOptions("mp3"))
    assert caught.value.code == "too_long"


def test_video_longer_than_audio_converts(converter: Converter, tmp_path: Path) -> None:
    source = tmp_path / "clip.mp4"
    _ffmpeg(
        "-f", "lavfi", "-i", "testsrc=size=64x64:rate=5:duration=6",
        "-f", "lavfi", "-i", "sine=d=3",
        "-c:v", "mpeg4", "-c:a", "aac", str(source),
    )  # fmt: skip
    result = converter.convert(source, "clip.mp4", ConversionOptions("mp3"))
    duration = decoded_duration(result.path)
    assert duration is not None
    assert abs(duration - 3.0) < 0.1
