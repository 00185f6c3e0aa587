"""Downloader saving to a chosen name under each overwrite policy, on a real server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_app.client.api import ApiClient
from desktop_app.client.downloader import NO_RETRIES, Downloader
from desktop_app.client.errors import IntegrityError
from desktop_app.client.models import ConversionOptions, JobInfo
from desktop_app.client.output_rules import OverwritePolicy, TargetExists
from tests.desktop_app.client.test_downloader import (
    FaultyTransport,
    flip_last_byte,
    folder_contents,
    rewrite_body,
    sha256_of,
)
from tests.helpers.jobs import finished_job
from tests.helpers.plugin import ToneFactory
from tests.helpers.server import LiveServer

OLD_CONTENT = b"the user's existing file"


@pytest.fixture
def job(api: ApiClient, tone: ToneFactory) -> JobInfo:
    created = api.create_job(tone("tone.wav", seconds=0.5), ConversionOptions("wav"))
    done = finished_job(api, created.id)
    assert done.output is not None
    return done


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """An empty folder for outputs, apart from the server's and the inputs'."""
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


@pytest.fixture
def counting(live_server: LiveServer) -> Iterator[tuple[ApiClient, FaultyTransport]]:
    """A client whose transport counts output requests and passes them on."""
    transport = FaultyTransport()
    with live_server.client(transport=transport) as client:
        yield client, transport


def test_name_chooses_the_file_name(api: ApiClient, job: JobInfo, out: Path) -> None:
    path = Downloader(api).download(job, out, name="Artist - Song.wav")

    assert path == out / "Artist - Song.wav"
    assert job.output is not None
    assert sha256_of(path) == job.output.sha256
    assert folder_contents(out) == ["Artist - Song.wav"]


def test_name_cannot_leave_the_folder(api: ApiClient, job: JobInfo, out: Path) -> None:
    path = Downloader(api).download(job, out, name="../../escape.wav")

    assert path == out / "escape.wav"


def test_number_keeps_existing_file(api: ApiClient, job: JobInfo, out: Path) -> None:
    (out / "song.wav").write_bytes(OLD_CONTENT)

    path = Downloader(api).download(job, out, name="song.wav")

    assert path == out / "song (1).wav"
    assert (out / "song.wav").read_bytes() == OLD_CONTENT


def test_overwrite_replaces_after_check(
    api: ApiClient, job: JobInfo, out: Path
) -> None:
    target = out / "song.wav"
    target.write_bytes(OLD_CONTENT)

    path = Downloader(api).download(
        job, out, name="song.wav", overwrite=OverwritePolicy.OVERWRITE
    )

    assert path == target
    assert job.output is not None
    assert sha256_of(target) == job.output.sha256
    assert folder_contents(out) == ["song.wav"]


def test_failed_overwrite_keeps_old_file(
    live_server: LiveServer, job: JobInfo, out: Path
) -> None:
    target = out / "song.wav"
    target.write_bytes(OLD_CONTENT)
    transport = FaultyTransport(repeat=rewrite_body(flip_last_byte))

    with (
        live_server.client(transport=transport) as client,
        pytest.raises(IntegrityError),
    ):
        Downloader(client, NO_RETRIES).download(
            job, out, name="song.wav", overwrite=OverwritePolicy.OVERWRITE
        )

    assert target.read_bytes() == OLD_CONTENT
    assert folder_contents(out) == ["song.wav"]


@pytest.mark.parametrize("policy", [OverwritePolicy.SKIP, OverwritePolicy.ASK])
def test_keeping_policy_downloads_nothing(
    counting: tuple[ApiClient, FaultyTransport],
    job: JobInfo,
    out: Path,
    policy: OverwritePolicy,
) -> None:
    client, transport = counting
    target = out / "song.wav"
    target.write_bytes(OLD_CONTENT)

    with pytest.raises(TargetExists) as raised:
        Downloader(client).download(job, out, name="song.wav", overwrite=policy)

    assert raised.value.target == target
    assert transport.output_requests == []
    assert target.read_bytes() == OLD_CONTENT


def test_skip_writes_free_name(api: ApiClient, job: JobInfo, out: Path) -> None:
    path = Downloader(api).download(
        job, out, name="song.wav", overwrite=OverwritePolicy.SKIP
    )

    assert path == out / "song.wav"


def test_file_appearing_meanwhile_is_kept(
    api: ApiClient, job: JobInfo, out: Path
) -> None:
    target = out / "song.wav"

    def appear(received: int, total: int) -> None:
        if not target.exists():
            target.write_bytes(OLD_CONTENT)

    with pytest.raises(TargetExists):
        Downloader(api).download(
            job,
            out,
            name="song.wav",
            overwrite=OverwritePolicy.SKIP,
            on_progress=appear,
        )

    assert target.read_bytes() == OLD_CONTENT
    assert folder_contents(out) == ["song.wav"]
