from __future__ import annotations

import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from backend.conversion.converter import Converter
from backend.conversion.formats import FORMATS
from backend.conversion.progress import ConversionUpdate
from backend.errors import ConversionCancelled, ConversionFailed, InvalidInput
from backend.jobs.model import ConversionOptions
from tests.helpers.audio import FFMPEG, decoded_duration
from tests.helpers.plugin import ToneFactory


@pytest.fixture
def work_dir(tmp_path: Path) -> Path:
    return tmp_path / "work"


@pytest.fixture
def converter(work_dir: Path) -> Converter:
    return Converter(FFMPEG, work_dir)


@pytest.mark.parametrize("name", list(FORMATS))
def test_converts_to_every_format(
    converter: Converter, tone: ToneFactory, name: str
) -> None:
    source = tone("input.wav", seconds=2.0)
    result = converter.convert(source, "input.wav", ConversionOptions(format=name))
    assert result.path.suffix == f".{FORMATS[name].extension}"
    actual = decoded_duration(result.path)
    assert actual is not None
    assert abs(actual - 2.0) < 0.05
    assert abs(result.output_duration_seconds - actual) < 0.01


def test_progress_is_monotonic_and_below_100(
    converter: Converter, tone: ToneFactory
) -> None:
    source = tone("long.wav", seconds=120.0, rate=22_050, channels=1)
    updates: list[ConversionUpdate] = []
    converter.convert(
        source, "long.wav", ConversionOptions(format="mp3"), on_update=updates.append
    )
    percents = [update.percent for update in updates]
    assert percents
    assert percents == sorted(percents)
    assert max(percents) < 100
    assert all(
        update.eta_seconds is None or update.eta_seconds >= 0 for update in updates
    )


def test_cancel_stops_ffmpeg_and_cleans_up(
    converter: Converter, tone: ToneFactory, work_dir: Path
) -> None:
    source = tone("long.wav", seconds=600.0, rate=22_050, channels=1)
    cancel = threading.Event()
    with pytest.raises(ConversionCancelled):
        converter.convert(
            source,
            "long.wav",
            ConversionOptions(format="mp3"),
            on_update=lambda _update: cancel.set(),
            cancel=cancel,
        )
    assert list(work_dir.iterdir()) == []


def test_empty_file_is_rejected(converter: Converter, tmp_path: Path) -> None:
    source = tmp_path / "silence.mp3"
    source.write_bytes(b"")
    with pytest.raises(InvalidInput) as caught:
        converter.convert(source, "silence.mp3", ConversionOptions(format="flac"))
    assert caught.value.code == "empty_file"
    assert "silence.mp3" in caught.value.message


def test_header_only_wav_is_rejected(converter: Converter, tmp_path: Path) -> None:
    source = tmp_path / "header.wav"
    subprocess.run(
        [FFMPEG, "-v", "error", "-f", "lavfi", "-i", "anullsrc", "-t", "0",
         "-c:a", "pcm_s16le", str(source)],
        check=True,
        timeout=30,
    )  # fmt: skip
    with pytest.raises(InvalidInput) as caught:
        converter.convert(source, "header.wav", ConversionOptions(format="mp3"))
    assert caught.value.code == "no_audio_samples"
    assert "header.wav" in caught.value.message


def test_text_file_is_rejected(converter: Converter, tmp_path: Path) -> None:
    source = tmp_path / "readme.mp3"
    source.write_text("not audio\n" * 100)
    with pytest.raises(InvalidInput) as caught:
        converter.convert(source, "readme.mp3", ConversionOptions(format="mp3"))
    assert caught.value.code == "unreadable_input"
    assert "readme.mp3" in caught.value.message


def test_video_without_audio_is_rejected(converter: Converter, tmp_path: Path) -> None:
    source = tmp_path / "clip.mp4"
    subprocess.run(
        [FFMPEG, "-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x64:rate=5",
         "-t", "1", "-c:v", "mpeg4", str(source)],
        check=True,
        timeout=30,
    )  # fmt: skip
    with pytest.raises(InvalidInput) as caught:
        converter.convert(source, "clip.mp4", ConversionOptions(format="mp3"))
    assert caught.value.code == "no_audio_stream"
    assert "video" in caught.value.message


def _truncating_ffmpeg(folder: Path) -> Path:
    """An FFmpeg that exits 0 but cuts every output file to a quarter."""
    script = folder / "lying-ffmpeg"
    script.write_text(
        f"#!{sys.executable}\n"
        "import os, subprocess, sys\n"
        f"code = subprocess.call([{FFMPEG!r}, *sys.argv[1:]])\n"
        "out = sys.argv[-1]\n"
        "if code == 0 and out != '-' and os.path.isfile(out):\n"
        "    size = os.path.getsize(out)\n"
        "    with open(out, 'r+b') as handle:\n"
        "        handle.truncate(size // 4)\n"
        "sys.exit(code)\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_exit_status_zero_is_not_trusted(
    tone: ToneFactory, tmp_path: Path, work_dir: Path
) -> None:
    converter = Converter(str(_truncating_ffmpeg(tmp_path)), work_dir)
    source = tone("input.wav", seconds=3.0)
    with pytest.raises(ConversionFailed) as caught:
        converter.convert(source, "input.wav", ConversionOptions(format="wav"))
    assert caught.value.code in ("duration_mismatch", "output_invalid")
    assert "input.wav" in caught.value.message
    assert list(work_dir.iterdir()) == []


def test_damaged_sample_rate_is_rejected(
    converter: Converter, tone: ToneFactory, tmp_path: Path
) -> None:
    source = tone("one-hertz.wav", seconds=1.0, rate=8_000, channels=1)
    data = bytearray(source.read_bytes())
    data[24:28] = (1).to_bytes(4, "little")  # the header's sample rate field
    damaged = tmp_path / "damaged.wav"
    damaged.write_bytes(bytes(data))
    with pytest.raises(InvalidInput) as caught:
        converter.convert(damaged, "damaged.wav", ConversionOptions(format="flac"))
    assert caught.value.code == "invalid_sample_rate"
    assert "damaged.wav" in caught.value.message


def test_ffmpeg_error_names_the_cause(
    tone: ToneFactory, tmp_path: Path, work_dir: Path
) -> None:
    script = tmp_path / "failing-ffmpeg"
    script.write_text(
        f"#!{sys.executable}\n"
        "import subprocess, sys\n"
        "if '-progress' in sys.argv and 'null' not in sys.argv:\n"
        "    sys.stderr.write('[libfoo @ 0x55c7] Invalid channel layout 4.0\\n')\n"
        "    sys.stderr.write('[out#0/ogg @ 0x55c8] Nothing was written\\n')\n"
        "    sys.exit(1)\n"
        f"sys.exit(subprocess.call([{FFMPEG!r}, *sys.argv[1:]]))\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    converter = Converter(str(script), work_dir)
    with pytest.raises(ConversionFailed) as caught:
        converter.convert(tone("in.wav"), "in.wav", ConversionOptions(format="mp3"))
    assert caught.value.code == "ffmpeg_failed"
    assert caught.value.message.endswith("Invalid channel layout 4.0.")


def test_leftovers_are_removed(work_dir: Path) -> None:
    converter = Converter(FFMPEG, work_dir)
    (work_dir / "output-abc.mp3").write_bytes(b"partial")
    (work_dir / "input-x").mkdir()
    assert converter.remove_leftovers() == 2
    assert list(work_dir.iterdir()) == []


@pytest.mark.parametrize(
    "playlist",
    [
        "ffconcat version 1.0\nfile '{secret}'\n",
        "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n{secret}\n#EXT-X-ENDLIST\n",
    ],
)
def test_playlist_cannot_read_other_files(
    converter: Converter, tone: ToneFactory, tmp_path: Path, playlist: str
) -> None:
    secret = tone("neighbour.wav", seconds=1.0)
    disguised = tmp_path / "song.mp3"
    disguised.write_text(playlist.format(secret=secret))
    with pytest.raises(InvalidInput) as caught:
        converter.convert(disguised, "song.mp3", ConversionOptions(format="wav"))
    assert caught.value.code in ("unsupported_format", "unreadable_input")
    assert "song.mp3" in caught.value.message
