from __future__ import annotations

import io
from pathlib import Path

import pytest

from backend.stores.local_blobs import CHUNK_SIZE, LocalBlobStore


@pytest.fixture
def blobs(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs")


def test_stream_round_trip(blobs: LocalBlobStore) -> None:
    data = bytes(range(256)) * (CHUNK_SIZE // 100)
    assert blobs.write_stream("inputs/a", io.BytesIO(data)) == len(data)
    assert b"".join(blobs.iter_range("inputs/a")) == data


def test_range_is_inclusive(blobs: LocalBlobStore) -> None:
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


def test_delete_missing_is_fine(blobs: LocalBlobStore) -> None:
    blobs.delete("never/there")
