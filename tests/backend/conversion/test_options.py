"""Encoder modes, bit depths, loudness, trims, fades and tags on real FFmpeg."""

from __future__ import annotations

import re
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from backend.conversion.converter import Converter
from backend.conversion.edits import LoudnessTarget
from backend.conversion.ffmpeg import FfmpegRun, run_ffmpeg
from backend.conversion.formats import validate_options
from backend.conversion.progress import ConversionUpdate
from backend.errors import ConversionCancelled, ConversionFailed, InvalidOptions
from backend.jobs.model import ConversionOptions
from tests.helpers.audio import FFMPEG, decoded_duration, make_tone, stream_summary

SOURCE_TAGS = {
    "title": "Night Train",
    "artist": "The Examples",
    "album": "Sample Album",
    "track": "3/12",
    "date": "2021",
    "genre": "Jazz",
    "comment": "recorded live",
    "composer": "A. Writer",
    "mood": "calm",
}


def _ffmpeg(*args: str) -> None:
    subprocess.run(
        [FFMPEG, "-hide_banner", "-v", "error", "-y", *args],
        check=True,
        capture_output=True,
        timeout=60,
    )


def _noise(
    path: Path, seconds: float, *, rate: int = 44_100, channels: int = 2
) -> Path:
    """Write stereo pink noise whose volume swells, as music does.

    The channels differ, so joint stereo cannot shrink an encode of it.
    """
    noise = f"anoisesrc=d={seconds}:c=pink:a=0.1:r={rate}"
    if channels == 1:
        _ffmpeg("-f", "lavfi", "-i", noise, "-c:a", "pcm_s16le", str(path))
        return path
    _ffmpeg(
        "-f", "lavfi", "-i", f"{noise}:seed=1", "-f", "lavfi", "-i", f"{noise}:seed=2",
        "-filter_complex",
        "[0][1]amerge=inputs=2,volume='0.6+0.3*sin(2*PI*t/1.5)':eval=frame",
        "-c:a", "pcm_s16le", str(path),
    )  # fmt: skip
    return path


def _ffmetadata(path: Path) -> dict[str, str]:
    """Return the container's and first stream's tags with FFmpeg's own reader."""
    tags: dict[str, str] = {}
    for spec in ("0", "0:s:a:0"):
        completed = subprocess.run(
            [FFMPEG, "-v", "error", "-i", str(path), "-map_metadata", spec,
             "-f", "ffmetadata", "-"],
            capture_output=True,
            timeout=60,
            check=True,
        )  # fmt: skip
        for line in completed.stdout.decode().splitlines()[1:]:
            key, _, value = line.partition("=")
            tags[key.lower()] = value
    return tags


def _loudness(path: Path) -> tuple[float, float]:
    """Return (integrated LUFS, true peak dBTP) measured by FFmpeg's ebur128."""
    completed = subprocess.run(
        [FFMPEG, "-hide_banner", "-nostats", "-i", str(path),
         "-af", "ebur128=peak=true", "-f", "null", "-"],
        capture_output=True,
        timeout=60,
        check=True,
    )  # fmt: skip
    log = completed.stderr.decode()
    summary = log[log.rindex("Summary:") :]
    integrated = re.search(r"I:\s+(-?[\d.]+) LUFS", summary)
    peak = re.search(r"Peak:\s+(-?[\d.]+|-inf) dBFS", summary)
    assert integrated is not None and peak is not None, summary
    return float(integrated[1]), float(peak[1])


def _peak_db(path: Path, start: float, seconds: float) -> float:
    """Return the peak level in dBFS of `seconds` of audio from `start`."""
    completed = subprocess.run(
        [FFMPEG, "-hide_banner", "-nostats", "-i", str(path),
         "-af", f"atrim=start={start}:duration={seconds},"
         "astats=measure_perchannel=none:measure_overall=Peak_level",
         "-f", "null", "-"],
        capture_output=True,
        timeout=60,
        check=True,
    )  # fmt: skip
    match = re.search(r"Peak level dB: (-?[\d.]+|-inf)", completed.stderr.decode())
    assert match is not None
    return float(match[1])


def _kbps(path: Path) -> float:
    duration = decoded_duration(path)
    assert duration
    return path.stat().st_size * 8 / duration / 1000


@pytest.fixture
def converter(tmp_path: Path) -> Converter:
    return Converter(FFMPEG, tmp_path / "work")


@pytest.fixture(scope="module")
def noise(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _noise(tmp_path_factory.mktemp("noise") / "noise.wav", 6.0)


@pytest.fixture(scope="module")
def tagged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A FLAC file with the tags of SOURCE_TAGS and a PNG cover."""
    folder = tmp_path_factory.mktemp("tagged")
    cover = folder / "cover.png"
    _ffmpeg("-f", "lavfi", "-i", "color=c=blue:s=32x32", "-frames:v", "1", str(cover))
    tags = [
        arg
        for key, value in SOURCE_TAGS.items()
        for arg in ("-metadata", f"{key}={value}")
    ]
    source = folder / "tagged.flac"
    _ffmpeg(
        "-f", "lavfi", "-i", "sine=frequency=440:duration=1.5",
        "-i", str(cover), "-map", "0:a", "-map", "1:v",
        "-c:a", "flac", "-c:v", "png", "-disposition:v", "attached_pic",
        *tags, str(source),
    )  # fmt: skip
    return source


# -- Bitrate modes, compression levels, bit depths --------------------------


def test_mp3_cbr_keeps_constant_bitrate(converter: Converter, noise: Path) -> None:
    options = ConversionOptions("mp3", bitrate_kbps=128, bitrate_mode="cbr")
    result = converter.convert(noise, "noise.wav", options)
    assert "128 kb/s" in stream_summary(result.path)
    assert abs(_kbps(result.path) - 128) < 128 * 0.05


def test_mp3_abr_averages_near_target(converter: Converter, noise: Path) -> None:
    options = ConversionOptions("mp3", bitrate_kbps=160, bitrate_mode="abr")
    result = converter.convert(noise, "noise.wav", options)
    assert abs(_kbps(result.path) - 160) < 160 * 0.25


def test_mp3_vbr_quality_sets_size(converter: Converter, noise: Path) -> None:
    best = converter.convert(
        noise, "noise.wav", ConversionOptions("mp3", quality=0, bitrate_mode="vbr")
    )
    smallest = converter.convert(
        noise, "noise.wav", ConversionOptions("mp3", quality=9, bitrate_mode="vbr")
    )
    default = converter.convert(
        noise, "noise.wav", ConversionOptions("mp3", bitrate_mode="vbr")
    )
    assert _kbps(best.path) > 2 * _kbps(smallest.path)
    assert _kbps(smallest.path) < _kbps(default.path) < _kbps(best.path)


def test_flac_compression_levels(converter: Converter, noise: Path) -> None:
    fast = converter.convert(
        noise, "noise.wav", ConversionOptions("flac", compression_level=0)
    )
    small = converter.convert(
        noise, "noise.wav", ConversionOptions("flac", compression_level=12)
    )
    assert small.path.stat().st_size < fast.path.stat().st_size
    assert "flac" in stream_summary(small.path)


@pytest.mark.parametrize(
    ("target", "depth", "expected"),
    [
        ("wav", 16, "pcm_s16le"),
        ("wav", 24, "pcm_s24le"),
        ("wav", 32, "pcm_s32le"),
        ("flac", 16, "s16"),
        ("flac", 24, "(24 bit)"),
        ("alac", 16, "s16p"),
        ("alac", 24, "(24 bit)"),
    ],
)
def test_bit_depth_is_stored(
    converter: Converter, noise: Path, target: str, depth: int, expected: str
) -> None:
    result = converter.convert(
        noise, "noise.wav", ConversionOptions(target, bit_depth=depth)
    )
    summary = stream_summary(result.path)
    assert expected in summary
    if depth == 16:
        assert "bit)" not in summary


# -- Loudness ----------------------------------------------------------------


@pytest.mark.parametrize(("target", "lufs"), [("mp3", -16.0), ("opus", -23.0)])
def test_loudness_reaches_target(
    converter: Converter, noise: Path, target: str, lufs: float
) -> None:
    options = ConversionOptions(target, loudness_lufs=lufs, true_peak_db=-1.0)
    result = converter.convert(noise, "noise.wav", options)
    integrated, peak = _loudness(result.path)
    assert abs(integrated - lufs) <= 1.0
    # MP3 and Opus decoding adds overshoot on top of the ceiling.
    assert peak <= -1.0 + 1.0
    assert not any("LUFS target" in note for note in result.adjustments)
    summary = stream_summary(result.path)
    assert ("48000 Hz" if target == "opus" else "44100 Hz") in summary


def test_loudness_keeps_requested_rate(converter: Converter, noise: Path) -> None:
    options = ConversionOptions("flac", loudness_lufs=-20.0, sample_rate=22_050)
    result = converter.convert(noise, "noise.wav", options)
    assert "22050 Hz" in stream_summary(result.path)
    assert abs(_loudness(result.path)[0] + 20.0) <= 1.0


def test_loudness_of_silence_is_left_alone(
    converter: Converter, tmp_path: Path
) -> None:
    source = tmp_path / "silence.wav"
    _ffmpeg("-f", "lavfi", "-i", "anullsrc=r=44100:cl=stereo", "-t", "2", str(source))
    result = converter.convert(
        source, "silence.wav", ConversionOptions("flac", loudness_lufs=-16)
    )
    assert any("silence.wav is silent" in note for note in result.adjustments)
    assert result.output_duration_seconds == pytest.approx(2.0, abs=0.05)


def test_downmix_that_cancels_is_named(converter: Converter, tmp_path: Path) -> None:
    source = tmp_path / "opposite.flac"
    _ffmpeg(
        "-f", "lavfi", "-i", "sine=frequency=440:duration=2",
        "-af", "pan=stereo|c0=c0|c1=-1*c0", str(source),
    )  # fmt: skip
    options = ConversionOptions("flac", loudness_lufs=-16, channels=1)
    result = converter.convert(source, "opposite.flac", options)
    assert any(
        "opposite.flac is silent once mixed down to mono" in note
        for note in result.adjustments
    )


def test_loudness_measured_after_downmix(converter: Converter, noise: Path) -> None:
    # The channels are uncorrelated, so the mono mix is about 3 LU quieter.
    options = ConversionOptions("flac", loudness_lufs=-16.0, channels=1)
    result = converter.convert(noise, "noise.wav", options)
    assert "mono" in stream_summary(result.path)
    assert abs(_loudness(result.path)[0] + 16.0) <= 1.0


def test_surround_loudness_measured_as_stereo(
    converter: Converter, tmp_path: Path
) -> None:
    source = tmp_path / "surround.wav"
    # Six uncorrelated channels, as a film mix has.
    inputs = [
        arg
        for seed in range(1, 7)
        for arg in ("-f", "lavfi", "-i", f"anoisesrc=d=4:c=pink:a=0.2:seed={seed}")
    ]
    _ffmpeg(
        *inputs, "-filter_complex", "join=inputs=6:channel_layout=5.1",
        "-c:a", "pcm_s16le", str(source),
    )  # fmt: skip
    options = ConversionOptions("opus", loudness_lufs=-16.0)
    result = converter.convert(source, "surround.wav", options)
    assert "stereo" in stream_summary(result.path)
    assert abs(_loudness(result.path)[0] + 16.0) <= 1.0


def test_missed_loud_target_is_reported(converter: Converter, noise: Path) -> None:
    options = ConversionOptions("flac", loudness_lufs=-5.0, true_peak_db=0.0)
    result = converter.convert(noise, "noise.wav", options)
    integrated, _peak = _loudness(result.path)
    assert integrated < -6.0
    misses = [note for note in result.adjustments if "LUFS target" in note]
    assert len(misses) == 1
    assert misses[0].startswith(f"noise.wav reached {integrated:.1f} LUFS")
    assert "below the -5 LUFS target" in misses[0]
    assert "0 dBTP true-peak ceiling" in misses[0]


def test_true_peak_over_ceiling_is_reported(converter: Converter, noise: Path) -> None:
    options = ConversionOptions("mp3", loudness_lufs=-8.0, true_peak_db=-1.5)
    result = converter.convert(noise, "noise.wav", options)
    peaks = [note for note in result.adjustments if "true peak of" in note]
    assert len(peaks) == 1
    assert "above the -1.5 dBTP ceiling" in peaks[0]
    assert "lossy encoding" in peaks[0]


@pytest.mark.parametrize(
    ("target", "bits", "expected"),
    [("flac", 16, "s16"), ("alac", 16, "s16p"), ("flac", 24, "(24 bit)")],
)
def test_loudness_keeps_source_bit_depth(
    converter: Converter, tmp_path: Path, target: str, bits: int, expected: str
) -> None:
    source = make_tone(tmp_path / "tone.wav", 1.0, extra=["-c:a", f"pcm_s{bits}le"])
    options = ConversionOptions(target, loudness_lufs=-16.0)
    result = converter.convert(source, "tone.wav", options)
    summary = stream_summary(result.path)
    assert expected in summary
    if bits == 16:
        assert "bit)" not in summary


def test_loudness_of_short_file_is_left_alone(
    converter: Converter, tmp_path: Path
) -> None:
    source = make_tone(tmp_path / "blip.wav", 0.1)
    result = converter.convert(
        source, "blip.wav", ConversionOptions("flac", loudness_lufs=-16)
    )
    notes = " ".join(result.adjustments)
    assert "blip.wav is too short to measure its loudness" in notes
    assert "silent" not in notes
    assert result.output_duration_seconds == pytest.approx(0.1, abs=0.02)


def test_measuring_failure_names_reason(
    converter: Converter, noise: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An out-of-range target makes the measuring pass fail like any other fault.
    monkeypatch.setattr(LoudnessTarget, "measure_filter", lambda _self: "loudnorm=I=3")
    options = ConversionOptions("mp3", loudness_lufs=-16.0)
    with pytest.raises(ConversionFailed) as caught:
        converter.convert(noise, "noise.wav", options)
    message = caught.value.message
    assert message.startswith("FFmpeg could not convert noise.wav: ")
    assert "out of range" in message
    assert "[error]" not in message


# -- Trim and fade -----------------------------------------------------------


def test_trim_and_fades_shape_the_output(converter: Converter, tmp_path: Path) -> None:
    source = tmp_path / "tone.wav"
    _ffmpeg(
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=4:sample_rate=44100",
        str(source),
    )
    options = ConversionOptions(
        "flac",
        trim_start_seconds=0.5,
        trim_end_seconds=1.0,
        fade_in_seconds=0.5,
        fade_out_seconds=0.5,
    )
    updates: list[ConversionUpdate] = []
    result = converter.convert(source, "tone.wav", options, on_update=updates.append)

    decoded = decoded_duration(result.path)
    assert decoded == pytest.approx(2.5, abs=0.01)
    assert result.output_duration_seconds == pytest.approx(2.5, abs=0.01)
    assert result.input_duration_seconds == pytest.approx(4.0, abs=0.01)
    # The tone peaks at -18 dBFS, and 20 ms into a 0.5 s fade it is 28 dB lower.
    assert _peak_db(result.path, 0.0, 0.02) < -40
    assert _peak_db(result.path, 2.48, 0.02) < -40
    assert _peak_db(result.path, 1.0, 0.5) > -20
    percents = [update.percent for update in updates]
    assert percents == sorted(percents)
    assert max(percents) >= 98


@pytest.mark.parametrize(
    ("options", "phrase"),
    [
        (
            ConversionOptions("mp3", trim_start_seconds=1.5, trim_end_seconds=0.5),
            "leaves no audio",
        ),
        (ConversionOptions("mp3", trim_start_seconds=5.0), "leaves no audio"),
        (
            ConversionOptions("mp3", trim_start_seconds=2.0 - 1e-8),
            "leaves less than 0.1 s of its 2.000 s",
        ),
        (ConversionOptions("mp3", trim_end_seconds=1.95), "leaves less than 0.1 s"),
        (ConversionOptions("mp3", trim_start_seconds=1e308), "Trimming 1e+308 s"),
        (
            ConversionOptions("mp3", trim_start_seconds=1.0, fade_in_seconds=1.5),
            "fades of",
        ),
        (
            ConversionOptions("mp3", fade_in_seconds=1.2, fade_out_seconds=1.0),
            "fades of",
        ),
    ],
)
def test_trims_longer_than_file_are_rejected(
    converter: Converter,
    tmp_path: Path,
    options: ConversionOptions,
    phrase: str,
) -> None:
    source = tmp_path / "short take.wav"
    _ffmpeg("-f", "lavfi", "-i", "sine=duration=2", str(source))
    with pytest.raises(InvalidOptions) as caught:
        converter.convert(source, "short take.wav", options)
    message = caught.value.message
    assert "short take.wav" in message
    assert phrase in message
    assert message.endswith(".")
    assert len(message) < 200
    assert list((tmp_path / "work").iterdir()) == []


# -- Progress and cancellation over several passes ---------------------------


def test_progress_rises_through_every_pass(
    converter: Converter, tmp_path: Path
) -> None:
    source = _noise(tmp_path / "long.wav", 20.0, rate=22_050)
    options = ConversionOptions("mp3", loudness_lufs=-18.0, trim_start_seconds=1.0)
    updates: list[ConversionUpdate] = []
    result = converter.convert(source, "long.wav", options, on_update=updates.append)
    percents = [update.percent for update in updates]
    assert percents == sorted(percents)
    # Updates from the measuring pass and from the encode.
    assert any(5 <= percent < 70 for percent in percents)
    assert any(percent > 70 for percent in percents)
    assert max(percents) >= 98
    assert result.output_duration_seconds == pytest.approx(19.0, abs=0.1)


@pytest.fixture
def pass_names(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the name of each FFmpeg pass the converter starts, in order."""
    names: list[str] = []

    def named_run(args: list[str], **kwargs: Any) -> FfmpegRun:
        command = " ".join(args)
        if "astats" in command:
            names.append("peak check")
        elif "loudnorm" in command and "-y" not in args:
            names.append("measure")
        else:
            names.append("other")
        return run_ffmpeg(args, **kwargs)

    monkeypatch.setattr("backend.conversion.converter.run_ffmpeg", named_run)
    return names


def test_time_left_covers_later_passes(
    converter: Converter, noise: Path, pass_names: list[str]
) -> None:
    seen: list[tuple[str, ConversionUpdate]] = []
    converter.convert(
        noise,
        "noise.wav",
        ConversionOptions("mp3", loudness_lufs=-18.0),
        on_update=lambda update: seen.append((pass_names[-1], update)),
    )
    measuring = [update for name, update in seen if name == "measure"]
    assert measuring
    # Even at the end of the measuring pass, the encode is still to come.
    timed = [update for update in measuring if update.speed]
    assert timed
    assert all(update.eta_seconds for update in timed)


def test_clipping_check_counts_in_progress(
    converter: Converter, tmp_path: Path, pass_names: list[str]
) -> None:
    source = tmp_path / "float.wav"
    _ffmpeg(
        "-f", "lavfi", "-i", "anoisesrc=d=20:c=pink:a=0.3",
        "-c:a", "pcm_f32le", str(source),
    )  # fmt: skip
    seen: list[tuple[str, ConversionUpdate]] = []
    converter.convert(
        source,
        "float.wav",
        ConversionOptions("flac"),
        on_update=lambda update: seen.append((pass_names[-1], update)),
    )

    checking = [update for name, update in seen if name == "peak check"]
    encoding = [update for name, update in seen if name == "other"]
    assert checking
    assert encoding
    assert max(update.percent for update in checking) > 40
    assert min(update.percent for update in encoding) > 40
    assert all(update.eta_seconds for update in checking if update.speed)


def test_cancel_stops_loudness_measurement(
    converter: Converter, tmp_path: Path
) -> None:
    source = _noise(tmp_path / "long.wav", 120.0, rate=22_050, channels=1)
    cancel = threading.Event()
    seen: list[float] = []

    def on_update(update: ConversionUpdate) -> None:
        seen.append(update.percent)
        cancel.set()

    options = ConversionOptions("mp3", loudness_lufs=-16.0)
    with pytest.raises(ConversionCancelled):
        converter.convert(
            source, "long.wav", options, on_update=on_update, cancel=cancel
        )
    assert seen
    assert max(seen) < 60
    assert list((tmp_path / "work").iterdir()) == []


def test_cancel_stops_encode_after_measurement(
    converter: Converter, tmp_path: Path
) -> None:
    source = _noise(tmp_path / "long.wav", 90.0, channels=1)
    cancel = threading.Event()
    seen: list[float] = []

    def on_update(update: ConversionUpdate) -> None:
        seen.append(update.percent)
        if update.percent >= 70:
            cancel.set()

    # FLAC's level 12 encodes slowly, so the encode outlasts a progress report.
    options = ConversionOptions("flac", loudness_lufs=-16.0, compression_level=12)
    with pytest.raises(ConversionCancelled):
        converter.convert(
            source, "long.wav", options, on_update=on_update, cancel=cancel
        )
    assert any(70 <= percent < 98 for percent in seen)
    assert list((tmp_path / "work").iterdir()) == []


# -- Tags and cover picture --------------------------------------------------


@pytest.mark.parametrize("target", ["mp3", "flac", "aac", "opus"])
def test_tags_and_cover_survive(
    converter: Converter, tagged: Path, target: str
) -> None:
    result = converter.convert(tagged, "tagged.flac", ConversionOptions(target))
    written = _ffmetadata(result.path)
    report = result.metadata
    assert report is not None

    carried = [key for key in SOURCE_TAGS if key in written]
    assert set(report.kept) == set(carried)
    assert set(report.dropped) == set(SOURCE_TAGS) - set(carried)
    for key in ("title", "artist", "album", "date", "genre", "comment"):
        assert written[key] == SOURCE_TAGS[key]
    assert written["track"].split("/")[0] == "3"
    has_cover = "(attached pic)" in _report_of(result.path)
    assert has_cover is (target != "opus")
    assert report.picture == ("kept" if has_cover else "dropped")


def test_aac_reports_tags_it_cannot_store(converter: Converter, tagged: Path) -> None:
    result = converter.convert(tagged, "tagged.flac", ConversionOptions("aac"))
    assert result.metadata is not None
    assert result.metadata.dropped == ("mood",)
    assert "composer" in result.metadata.kept


def test_wav_keeps_only_info_tags(converter: Converter, tagged: Path) -> None:
    result = converter.convert(tagged, "tagged.flac", ConversionOptions("wav"))
    assert result.metadata is not None
    assert set(result.metadata.dropped) == {"composer", "mood"}
    assert _ffmetadata(result.path)["title"] == SOURCE_TAGS["title"]
    assert result.metadata.picture == "dropped"


def test_ogg_stream_tags_reach_mp3(
    converter: Converter, tagged: Path, tmp_path: Path
) -> None:
    source = tmp_path / "tagged.opus"
    _ffmpeg("-i", str(tagged), "-map", "0:a", "-c:a", "libopus", str(source))
    assert "title" not in _ffmetadata_container(source)
    result = converter.convert(source, "tagged.opus", ConversionOptions("mp3"))
    written = _ffmetadata_container(result.path)
    assert written["title"] == SOURCE_TAGS["title"]
    assert written["mood"] == SOURCE_TAGS["mood"]
    assert result.metadata is not None
    assert result.metadata.dropped == ()
    assert result.metadata.picture is None
    assert "ID3v2.3" in _id3_version(result.path)


def test_keep_metadata_false_strips_all(converter: Converter, tagged: Path) -> None:
    options = ConversionOptions("mp3", keep_metadata=False)
    result = converter.convert(tagged, "tagged.flac", options)
    written = _ffmetadata(result.path)
    assert not set(SOURCE_TAGS) & set(written)
    assert "(attached pic)" not in _report_of(result.path)
    assert result.metadata is not None
    assert result.metadata.kept == ()
    assert set(result.metadata.dropped) == set(SOURCE_TAGS)
    assert result.metadata.picture == "dropped"
    assert result.adjustments == ()


def test_normalising_drops_gain_tags(converter: Converter, tmp_path: Path) -> None:
    source = _noise(tmp_path / "gain.wav", 3.0)
    tagged = tmp_path / "gain.flac"
    _ffmpeg(
        "-i", str(source), "-metadata", "REPLAYGAIN_TRACK_GAIN=-6.00 dB",
        "-metadata", "title=Loud", str(tagged),
    )  # fmt: skip
    result = converter.convert(
        tagged, "gain.flac", ConversionOptions("flac", loudness_lufs=-18)
    )
    assert result.metadata is not None
    assert result.metadata.kept == ("title",)
    assert result.metadata.dropped == ("replaygain_track_gain",)
    assert any("ReplayGain" in note for note in result.adjustments)


def test_trim_drops_chapters_with_note(converter: Converter, tmp_path: Path) -> None:
    chapters = tmp_path / "chapters.txt"
    chapters.write_text(
        ";FFMETADATA1\ntitle=Book\n"
        "[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=1000\ntitle=One\n"
        "[CHAPTER]\nTIMEBASE=1/1000\nSTART=1000\nEND=2000\ntitle=Two\n"
    )
    source = tmp_path / "book.m4a"
    _ffmpeg(
        "-f", "lavfi", "-i", "sine=duration=2", "-i", str(chapters),
        "-map", "0:a", "-map_metadata", "1", "-map_chapters", "1",
        "-c:a", "aac", str(source),
    )  # fmt: skip
    whole = converter.convert(source, "book.m4a", ConversionOptions("aac"))
    assert "Chapters:" in _report_of(whole.path)
    trimmed = converter.convert(
        source, "book.m4a", ConversionOptions("aac", trim_start_seconds=0.5)
    )
    assert "Chapters:" not in _report_of(trimmed.path)
    assert any("chapters were left out" in note for note in trimmed.adjustments)
    assert trimmed.metadata is not None
    assert trimmed.metadata.kept == ("title",)


def _report_of(path: Path) -> str:
    completed = subprocess.run(
        [FFMPEG, "-hide_banner", "-i", str(path)], capture_output=True, timeout=60
    )
    return completed.stderr.decode("utf-8", "replace")


def _ffmetadata_container(path: Path) -> dict[str, str]:
    completed = subprocess.run(
        [FFMPEG, "-v", "error", "-i", str(path), "-map_metadata", "0",
         "-f", "ffmetadata", "-"],
        capture_output=True,
        timeout=60,
        check=True,
    )  # fmt: skip
    lines = completed.stdout.decode().splitlines()[1:]
    return {
        key.lower(): value for key, _, value in (line.partition("=") for line in lines)
    }


def _id3_version(path: Path) -> str:
    header = path.read_bytes()[:4]
    assert header[:3] == b"ID3"
    return f"ID3v2.{header[3]}"


# -- Validation at job creation ----------------------------------------------


@pytest.mark.parametrize(
    ("options", "phrase"),
    [
        (ConversionOptions("mp3", compression_level=5), "takes no compression level"),
        (ConversionOptions("flac", compression_level=13), "from 0 to 12"),
        (ConversionOptions("mp3", bit_depth=24), "takes no bit depth"),
        (ConversionOptions("flac", bit_depth=32), "use one of: 16, 24"),
        (ConversionOptions("wav", bit_depth=8), "use one of: 16, 24, 32"),
        (ConversionOptions("opus", bitrate_mode="vbr"), "takes no bitrate mode"),
        (ConversionOptions("mp3", bitrate_mode="fast"), "use one of: cbr, abr, vbr"),
        (
            ConversionOptions("mp3", bitrate_mode="vbr", bitrate_kbps=128),
            "set by quality",
        ),
        (ConversionOptions("mp3", bitrate_mode="cbr", quality=2), "set by bitrate"),
        (ConversionOptions("mp3", loudness_lufs=-80), "from -70 to -5 LUFS"),
        (ConversionOptions("mp3", loudness_lufs=float("nan")), "is invalid"),
        (ConversionOptions("mp3", true_peak_db=-1), "set a loudness target"),
        (ConversionOptions("mp3", loudness_lufs=-16, true_peak_db=1), "from -9 to 0"),
        (ConversionOptions("mp3", trim_start_seconds=-1), "Trim at the start of -1 s"),
        (ConversionOptions("mp3", trim_end_seconds=-0.5), "Trim at the end"),
        (ConversionOptions("mp3", fade_in_seconds=float("inf")), "Fade-in"),
        (ConversionOptions("mp3", fade_out_seconds=-2), "Fade-out of -2 s"),
    ],
)
def test_invalid_combinations_are_rejected(
    options: ConversionOptions, phrase: str
) -> None:
    with pytest.raises(InvalidOptions) as caught:
        validate_options(options)
    assert phrase in caught.value.message
    assert caught.value.message.endswith(".")
