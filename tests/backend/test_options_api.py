"""Conversion options and the metadata report through the real HTTP API."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from desktop_app.client.api import ApiClient
from desktop_app.client.models import ConversionOptions, MetadataReport
from tests.helpers.audio import FFMPEG, decoded_duration
from tests.helpers.jobs import finished_job
from tests.helpers.plugin import TEST_TOKEN, ToneFactory
from tests.helpers.server import LiveServer

AUTH = {"Authorization": f"Bearer {TEST_TOKEN}"}

# Form fields that no format can take together, with a phrase of the error.
INVALID_FIELDS = [
    ({"format": "mp3", "compression_level": "5"}, "takes no compression level"),
    ({"format": "mp3", "bit_depth": "24"}, "takes no bit depth"),
    ({"format": "opus", "bitrate_mode": "cbr"}, "takes no bitrate mode"),
    ({"format": "mp3", "bitrate_mode": "loud"}, "use one of: cbr, abr, vbr"),
    ({"format": "flac", "compression_level": "20"}, "from 0 to 12"),
    ({"format": "mp3", "trim_start_seconds": "-1"}, "Trim at the start of -1 s"),
    ({"format": "mp3", "fade_out_seconds": "nan"}, "Fade-out"),
    ({"format": "mp3", "loudness_lufs": "0"}, "from -70 to -5 LUFS"),
    ({"format": "mp3", "true_peak_db": "-1"}, "set a loudness target"),
]


@pytest.fixture
def http(live_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{live_server.url}/api/v1", timeout=30) as client:
        yield client


@pytest.fixture
def tagged(tmp_path: Path) -> Path:
    """A FLAC file with four tags and a PNG cover picture."""
    cover = tmp_path / "cover.png"
    source = tmp_path / "Tagged Song.flac"
    for args in (
        ["-f", "lavfi", "-i", "color=c=red:s=32x32", "-frames:v", "1", str(cover)],
        ["-f", "lavfi", "-i", "sine=duration=2", "-i", str(cover),
         "-map", "0:a", "-map", "1:v", "-c:v", "png",
         "-disposition:v", "attached_pic",
         "-metadata", "title=Song", "-metadata", "artist=Band",
         "-metadata", "composer=Writer", "-metadata", "mood=calm", str(source)],
    ):  # fmt: skip
        subprocess.run([FFMPEG, "-v", "error", "-y", *args], check=True, timeout=60)
    return source


def test_invalid_options_get_422(http: httpx.Client, tone: ToneFactory) -> None:
    source = tone("take.wav", seconds=0.5)
    for fields, phrase in INVALID_FIELDS:
        with open(source, "rb") as handle:
            response = http.post(
                "/jobs",
                headers=AUTH,
                files={"file": ("take.wav", handle, "audio/wav")},
                data=fields,
            )
        body = response.json()
        assert response.status_code == 422, fields
        assert body["code"] == "invalid_options", fields
        assert phrase in body["message"], fields
        assert body["message"].endswith("."), fields


def test_formats_describe_options(api: ApiClient) -> None:
    formats = {fmt.name: fmt for fmt in api.formats()}
    assert formats["mp3"].bitrate_modes == ("cbr", "abr", "vbr")
    assert formats["aac"].bitrate_modes is None
    assert formats["flac"].compression_levels == (0, 12)
    assert formats["mp3"].compression_levels is None
    assert formats["wav"].bit_depths == (16, 24, 32)
    assert formats["flac"].bit_depths == (16, 24)
    assert formats["alac"].bit_depths == (16, 24)
    assert formats["opus"].bit_depths is None
    assert all(fmt.holds_tags for fmt in formats.values())
    assert formats["wav"].tag_names is not None
    assert "title" in formats["wav"].tag_names
    assert formats["mp3"].tag_names is None
    assert formats["flac"].holds_cover
    assert not formats["opus"].holds_cover


def test_jobs_report_metadata(api: ApiClient, tagged: Path) -> None:
    kept = api.create_job(
        tagged,
        ConversionOptions(format="aac", trim_start_seconds=0.5, fade_out_seconds=0.25),
    )
    stripped = api.create_job(
        tagged, ConversionOptions(format="mp3", keep_metadata=False)
    )
    too_short = api.create_job(
        tagged, ConversionOptions(format="mp3", trim_end_seconds=3.0)
    )
    assert kept.options.trim_start_seconds == 0.5
    assert stripped.options.keep_metadata is False
    assert kept.metadata is None

    done = finished_job(api, kept.id)
    assert done.status == "completed", done.error_message
    assert done.metadata == MetadataReport(
        kept=("title", "artist", "composer"), dropped=("mood",), picture="kept"
    )
    assert done.output is not None
    assert done.output.duration_seconds == pytest.approx(1.5, abs=0.05)

    plain = finished_job(api, stripped.id)
    assert plain.status == "completed", plain.error_message
    assert plain.metadata == MetadataReport(
        kept=(),
        dropped=("title", "artist", "composer", "mood"),
        picture="dropped",
    )

    failed = finished_job(api, too_short.id)
    assert failed.status == "failed"
    assert failed.error_code == "invalid_options"
    assert failed.error_message is not None
    assert "Tagged Song.flac" in failed.error_message
    assert "leaves no audio" in failed.error_message


def test_trimmed_download_has_trimmed_length(
    api: ApiClient, tone: ToneFactory, tmp_path: Path
) -> None:
    source = tone("talk.wav", seconds=3.0)
    options = ConversionOptions(
        format="flac", trim_start_seconds=1.0, trim_end_seconds=0.5, bit_depth=24
    )
    job = api.create_job(source, options)
    done = finished_job(api, job.id)
    assert done.status == "completed", done.error_message
    target = tmp_path / "talk.flac"
    with api.stream_output(job.id) as response, open(target, "wb") as handle:
        for chunk in response.iter_bytes():
            handle.write(chunk)
    assert decoded_duration(target) == pytest.approx(1.5, abs=0.01)
