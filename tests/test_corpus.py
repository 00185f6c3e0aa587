"""Convert every file of the public audio corpus to MP3 and FLAC, end to end.

Each file must either give an output that decodes to the input's length, or
fail with a clear error that names the file. Files that hold no audio
samples at all must fail.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from desktop_app.client.api import ApiClient
from desktop_app.client.downloader import Downloader
from desktop_app.client.models import ConversionOptions, JobInfo
from tests.helpers.audio import decoded_duration
from tests.helpers.jobs import finished_job

pytestmark = pytest.mark.corpus

TARGETS = ("mp3", "flac")
MUST_FAIL = {"emptyfile.mp3", "test1_empty.wav"}


def _tolerance(seconds: float) -> float:
    return max(seconds * 0.005, 0.05)


@pytest.fixture
def corpus_files(corpus_dir: Path) -> list[Path]:
    files = sorted(path for path in corpus_dir.iterdir() if path.is_file())
    files = [path for path in files if path.name != "README.md"]
    assert files, f"{corpus_dir} holds no files"
    return files


def test_corpus_converts_or_fails_clearly(
    api: ApiClient, corpus_files: list[Path], tmp_path: Path
) -> None:
    jobs: list[tuple[Path, str, JobInfo]] = []
    for path in corpus_files:
        for target in TARGETS:
            jobs.append((path, target, api.create_job(path, ConversionOptions(target))))

    downloader = Downloader(api)
    problems: list[str] = []
    for path, target, created in jobs:
        job = finished_job(api, created.id)
        label = f"{path.name} -> {target}"
        if path.name in MUST_FAIL:
            if job.status != "failed":
                problems.append(f"{label}: expected a failure, got {job.status}")
            elif path.name not in (job.error_message or ""):
                problems.append(f"{label}: error does not name the file")
            continue
        if job.status != "completed":
            problems.append(f"{label}: {job.status}: {job.error_message}")
            continue

        saved = downloader.download(job, tmp_path / target)
        expected = decoded_duration(path)
        actual = decoded_duration(saved)
        if expected is None or actual is None:
            problems.append(f"{label}: does not decode ({expected}, {actual})")
        elif abs(expected - actual) > _tolerance(expected):
            problems.append(f"{label}: lasts {actual:.3f} s, input {expected:.3f} s")

    assert problems == []
