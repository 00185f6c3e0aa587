"""An exclusive lock on a data folder, so two servers never share one.

A server that finds jobs `running` at startup marks them interrupted, which
is only right when no other live server owns them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import IO

LOCK_NAME = "server.lock"


class DataFolderInUse(Exception):
    """Another process holds the lock on the data folder."""


def lock_data_folder(folder: Path) -> IO[bytes]:
    """Lock `folder` for this process; keep the returned file open to hold it.

    Raises DataFolderInUse when another process holds the lock. The
    operating system releases it when the process ends, also after a crash.
    """
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    handle = os.fdopen(descriptor, "r+b")
    try:
        _lock(handle)
    except OSError:
        handle.close()
        raise DataFolderInUse(
            f"Another Audio Converter server is using {folder}."
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()).encode())
    handle.flush()
    return handle


def data_folder_in_use(folder: Path) -> bool:
    """Return True if another process holds the lock on `folder` right now."""
    if not (folder / LOCK_NAME).exists():
        return False
    try:
        handle = lock_data_folder(folder)
    except DataFolderInUse:
        return True
    handle.close()
    return False


if sys.platform == "win32":
    import msvcrt

    def _lock(handle: IO[bytes]) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)

else:
    import fcntl

    def _lock(handle: IO[bytes]) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
