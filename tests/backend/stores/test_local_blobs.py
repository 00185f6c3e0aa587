from __future__ import annotations

import io
import uuid
from pathlib import Path

import pytest

from backend.settings import Settings
from backend.stores.aws import aws_client
from backend.stores.base import BlobStore
from backend.stores.local_blobs import CHUNK_SIZE, LocalBlobStore
from backend.stores.s3_blobs import S3BlobStore, create_bucket
from tests.helpers.services import MotoServer


@pytest.fixture
def blobs(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs")


@pytest.fixture(params=["local", "s3"])
def any_blobs(tmp_path: Path, request: pytest.FixtureRequest) -> BlobStore:
    """The local store and the S3 store on moto's server."""
    if request.param == "local":
        return LocalBlobStore(tmp_path / "blobs")
    moto: MotoServer = request.getfixturevalue("moto_server")
    name = f"blobs-{uuid.uuid4().hex[:10]}"
    settings = Settings(s3_endpoint_url=moto.url, s3_bucket=name, data_dir=tmp_path)
    create_bucket(aws_client("s3", settings, moto.url), name, settings.aws_region, 1)
    return S3BlobStore(settings, tmp_path / "work")


def test_stream_round_trip(any_blobs: BlobStore) -> None:
    blobs = any_blobs
    data = bytes(range(256)) * (CHUNK_SIZE // 100)
    assert blobs.write_stream("inputs/a", io.BytesIO(data)) == len(data)
    assert b"".join(blobs.iter_range("inputs/a")) == data


def test_range_is_inclusive(any_blobs: BlobStore) -> None:
    blobs = any_blobs
    blobs.write_stream("k", io.BytesIO(b"0123456789"))
    assert b"".join(blobs.iter_range("k", 2, 5)) == b"2345"
    assert b"".join(blobs.iter_range("k", 8)) == b"89"


def test_put_file_moves_and_hides(blobs: LocalBlobStore, tmp_path: Path) -> None:
    source = tmp_path / "out.mp3"
    source.write_bytes(b"abc")
    assert blobs.put_file("outputs/x.mp3", source) == 3
    assert not source.exists()
    with blobs.local_path("outputs/x.mp3") as path:
        assert path.stat().st_mode & 0o077 == 0


def test_failed_write_leaves_nothing(blobs: LocalBlobStore, tmp_path: Path) -> None:
    class Broken(io.RawIOBase):
        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        blobs.write_stream("inputs/b", Broken())  # type: ignore[arg-type]
    assert list((tmp_path / "blobs" / "inputs").iterdir()) == []


@pytest.mark.parametrize("key", ["../escape", "/abs", "a/../../b", "", "a//b"])
def test_unsafe_keys_are_rejected(blobs: LocalBlobStore, key: str) -> None:
    with pytest.raises(ValueError, match="Invalid blob key"):
        blobs.size(key)


def test_delete_missing_is_fine(any_blobs: BlobStore) -> None:
    blobs = any_blobs
    blobs.delete("never/there")


def test_local_copy_for_ffmpeg(any_blobs: BlobStore, tmp_path: Path) -> None:
    source = tmp_path / "song.flac"
    source.write_bytes(b"fLaC" + bytes(1000))
    assert any_blobs.put_file("outputs/song.flac", source) == 1004
    assert any_blobs.size("outputs/song.flac") == 1004
    with any_blobs.local_path("outputs/song.flac") as path:
        assert path.read_bytes()[:4] == b"fLaC"
    any_blobs.delete("outputs/song.flac")
    with pytest.raises(FileNotFoundError):
        any_blobs.size("outputs/song.flac")
