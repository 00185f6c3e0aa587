"""File names, mixed batches and a server killed in the middle of a job."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from desktop_app.client.api import ApiClient
from desktop_app.client.downloader import Downloader
from desktop_app.client.models import ConversionOptions
from tests.helpers.audio import decoded_duration
from tests.helpers.jobs import finished_job, wait_for_stage
from tests.helpers.plugin import TEST_TOKEN, ToneFactory

NAMES = [
    "two  spaces and 'quotes' \"too\".wav",
    unicodedata.normalize("NFC", "Beyoncé – Déjà vu.wav"),
    unicodedata.normalize("NFD", "Beyoncé – Déjà vu (NFD).wav"),
    "-leading-dash.wav",
    "très long " * 22 + ".wav",  # 246 bytes: with a part suffix, past 255
]


@pytest.mark.parametrize("name", NAMES)
def test_awkward_file_names_convert(
    api: ApiClient, tone: ToneFactory, tmp_path: Path, name: str
) -> None:
    try:
        source = tone(name, seconds=1.0)
    except OSError:
        pytest.skip("this file system rejects the name")
    job = api.create_job(source, ConversionOptions("mp3"))
    done = finished_job(api, job.id)
    assert done.status == "completed", done.error_message
    saved = Downloader(api).download(done, tmp_path / "out")
    assert saved.suffix == ".mp3"
    assert len(saved.name.encode()) <= 255
    assert saved.name.startswith(name[:5])
    assert decoded_duration(saved) is not None


def test_bad_files_leave_nothing_behind(
    api: ApiClient, tone: ToneFactory, tmp_path: Path, live_server: object
) -> None:
    empty = tmp_path / "empty.mp3"
    empty.write_bytes(b"")
    text = tmp_path / "notes.flac"
    text.write_text("not audio\n" * 50)
    good = [tone(f"good-{index}.wav", seconds=1.0) for index in range(3)]
    sources = [good[0], empty, good[1], text, good[2]]

    jobs = [api.create_job(path, ConversionOptions("opus")) for path in sources]
    finished = [finished_job(api, job.id) for job in jobs]

    statuses = [job.status for job in finished]
    assert statuses == ["completed", "failed", "completed", "failed", "completed"]
    data_dir = live_server.settings.data_dir  # type: ignore[attr-defined]
    if (data_dir / "blobs").exists():
        assert list((data_dir / "work").iterdir()) == []
        assert list((data_dir / "blobs" / "inputs").iterdir()) == []
        outputs = sorted(
            path.name for path in (data_dir / "blobs" / "outputs").iterdir()
        )
        assert len(outputs) == 3


@pytest.fixture
def store_set() -> str:
    return "embedded"


def _start_server(data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "backend", "--port", "0", "--data-dir", str(data_dir),
         "--workers", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "AUDIO_CONVERTER_TOKEN": TEST_TOKEN},
    )  # fmt: skip
    assert process.stdout is not None
    port = json.loads(process.stdout.readline())["port"]
    return process, f"http://127.0.0.1:{port}"


def test_killed_server_marks_job_interrupted(tone: ToneFactory, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    source = tone("long.wav", seconds=900.0, rate=22_050, channels=1)
    process, url = _start_server(data_dir)
    try:
        with ApiClient(url, TEST_TOKEN) as api:
            job = api.create_job(source, ConversionOptions("opus"))
            wait_for_stage(api, job.id, ("converting",))
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

    process, url = _start_server(data_dir)
    try:
        with ApiClient(url, TEST_TOKEN) as api:
            restarted = api.get_job(job.id)
            progress = api.get_progress(job.id)
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert restarted.status == "failed"
    assert restarted.error_code == "interrupted"
    assert "long.wav" in (restarted.error_message or "")
    assert progress.stage == "failed"
    assert list((data_dir / "work").iterdir()) == []
