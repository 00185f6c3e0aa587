"""Blob store on a local folder: the embedded default."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

CHUNK_SIZE = 1024 * 1024

_VALID_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")


class LocalBlobStore:
    """Stores each key as a file below `root`, readable by the owner only."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._root.mkdir(parents=True, exist_ok=True, mode=0o700)

    def write_stream(self, key: str, source: BinaryIO) -> int:
        target = self._path(key)
        with self._atomic_file(target) as handle:
            shutil.copyfileobj(source, handle, CHUNK_SIZE)
            size = handle.tell()
        return size

    def put_file(self, key: str, path: Path) -> int:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(path, 0o600)
        shutil.move(path, target)
        return target.stat().st_size

    def size(self, key: str) -> int:
        return self._path(key).stat().st_size

    def iter_range(
        self, key: str, start: int = 0, end: int | None = None
    ) -> Iterator[bytes]:
        path = self._path(key)
        with open(path, "rb") as handle:
            handle.seek(start)
            remaining = None if end is None else end - start + 1
            while remaining is None or remaining > 0:
                want = CHUNK_SIZE if remaining is None else min(CHUNK_SIZE, remaining)
                chunk = handle.read(want)
                if not chunk:
                    return
                if remaining is not None:
                    remaining -= len(chunk)
                yield chunk

    @contextlib.contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        path = self._path(key)
        if not path.is_file():
            raise FileNotFoundError(f"Blob {key!r} not found")
        yield path

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def close(self) -> None:
        """Nothing to release: files are opened per call."""

    def _path(self, key: str) -> Path:
        if not _VALID_KEY.match(key) or ".." in key.split("/"):
            raise ValueError(f"Invalid blob key: {key!r}")
        return self._root / key

    @contextlib.contextmanager
    def _atomic_file(self, target: Path) -> Iterator[BinaryIO]:
        """Write to a temporary file beside `target`, then rename it into place."""
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        descriptor, temporary = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
        )
        try:
            with os.fdopen(descriptor, "wb") as handle:
                yield handle
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
