from __future__ import annotations

from pathlib import Path

from backend.conversion.probe import channel_layouts, parse_probe_report, probe
from tests.helpers.audio import FFMPEG
from tests.helpers.plugin import ToneFactory

COVER_ART_REPORT = """\
Input #0, flac, from 'song.flac':
  Duration: 00:03:25.50, start: 0.000000, bitrate: 900 kb/s
  Stream #0:0: Audio: flac, 96000 Hz, stereo, s32 (24 bit)
  Stream #0:1: Video: png, rgb24, 500x500 (attached pic)
"""

VIDEO_ONLY_REPORT = """\
Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'clip.mp4':
  Duration: 00:00:02.27, start: 0.000000, bitrate: 940 kb/s
  Stream #0:0[0x1](eng): Video: h264 (Constrained Baseline), yuv420p, 640x480
"""


def test_report_with_cover_art() -> None:
    info = parse_probe_report(COVER_ART_REPORT, {"stereo": 2})
    assert info.duration_seconds == 205.5
    assert info.has_audio
    assert not info.has_video
    assert info.audio is not None
    assert info.audio.sample_rate == 96_000
    assert info.audio.channels == 2
    assert info.audio.bits_per_sample == 24


def test_report_of_video_without_audio() -> None:
    info = parse_probe_report(VIDEO_ONLY_REPORT, {})
    assert not info.has_audio
    assert info.has_video
    assert not info.unreadable


def test_report_of_garbage_is_unreadable() -> None:
    report = "x.mp3: Invalid data found when processing input\n"
    info = parse_probe_report(report, {})
    assert info.unreadable
    assert info.duration_seconds is None


def test_channel_layouts_come_from_ffmpeg() -> None:
    layouts = channel_layouts(FFMPEG)
    assert layouts["mono"] == 1
    assert layouts["stereo"] == 2
    assert layouts["5.1"] == 6


def test_probe_generated_surround_tone(tone: ToneFactory) -> None:
    path = tone("surround.flac", seconds=1.5, rate=48_000, channels=6)
    info = probe(FFMPEG, path)
    assert info.audio is not None
    assert info.audio.channels == 6
    assert info.audio.sample_rate == 48_000
    assert info.duration_seconds is not None
    assert abs(info.duration_seconds - 1.5) < 0.05


def test_probe_text_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp3"
    path.write_text("these are not audio samples\n" * 20)
    info = probe(FFMPEG, path)
    assert not info.has_audio
    assert info.unreadable
