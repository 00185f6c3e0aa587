"""Send the app's log to a rotating file in the platform's log folder.

The folder is platformdirs' `user_log_dir` (on Linux
`~/.local/state/audio-converter/log`). The app writes `app.log` there and
the bundled backend it starts writes `backend.log` beside it.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

import platformdirs

APP_LOG_NAME = "app.log"
BACKEND_LOG_NAME = "backend.log"
MAX_LOG_BYTES = 2 * 1024 * 1024
LOG_BACKUPS = 3
LOG_FORMAT = "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"


def default_log_dir() -> Path:
    """Return the platform's log folder for this app."""
    return Path(platformdirs.user_log_dir("audio-converter", appauthor=False))


def configure_logging(
    *,
    verbose: bool = False,
    console: bool = True,
    log_dir: Path | None = None,
    name: str = APP_LOG_NAME,
) -> Path | None:
    """Log to a rotating file in `log_dir` and, with `console`, to standard error.

    The file gets INFO and above (DEBUG with `verbose`); standard error gets
    WARNING and above (DEBUG with `verbose`). Returns the log file's path, or
    None when the folder cannot be written, in which case standard error gets
    the log (even without `console`) and a warning there gives the reason.
    """
    folder = log_dir or default_log_dir()
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    formatter = logging.Formatter(LOG_FORMAT)

    stderr_handler = logging.StreamHandler(sys.stderr)
    stderr_handler.setLevel(logging.DEBUG if verbose else logging.WARNING)
    stderr_handler.setFormatter(formatter)
    if console:
        root.addHandler(stderr_handler)

    path = folder / name
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=MAX_LOG_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
        )
    except OSError as error:
        if not console:
            root.addHandler(stderr_handler)
        logging.getLogger(__name__).warning(
            "Cannot write the log file %s, logging to standard error only: %s",
            path,
            error,
        )
        return None
    handler.setFormatter(formatter)
    root.addHandler(handler)
    return path


def rotate_if_large(path: Path) -> None:
    """Move `path` to `path.1` (and older copies up) when it is over the limit.

    For a log that another process appends to through its standard error,
    which cannot rotate it while running: call this before starting it.
    """
    try:
        if path.stat().st_size < MAX_LOG_BYTES:
            return
    except FileNotFoundError:
        return
    handler = logging.handlers.RotatingFileHandler(
        path, backupCount=LOG_BACKUPS, delay=True
    )
    try:
        handler.doRollover()
    finally:
        handler.close()
