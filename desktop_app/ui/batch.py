"""When queued files start, when a batch ends, and how far it has got."""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from desktop_app.ui.job_model import JobRow, JobTableModel, Phase

logger = logging.getLogger(__name__)

# Shares of a file's progress bar: upload, conversion, then saving.
UPLOAD_SHARE = 10.0
CONVERT_SHARE = 85.0
SAVE_SHARE = 5.0
# Below this overall percentage an estimate of the time left is mostly noise.
MIN_PERCENT_FOR_ETA = 2.0


class BatchState(enum.Enum):
    IDLE = "idle"
    RUNNING = "running"
    STOPPING = "stopping"


@dataclass(frozen=True)
class BatchProgress:
    """Overall state of the files of the running or last batch."""

    total: int
    done: int
    failed: int
    skipped: int
    active: int
    percent: float
    eta_seconds: float | None


class Batch(QObject):
    """Starts queued rows up to the parallel limit and notices the end.

    The window calls `pump` after every row change, and the batch then emits
    `start_requested` for more rows or `finished`. GUI thread only.

    Signals:
        start_requested(int): the window should start converting this row.
        finished(): every row the batch started has ended.
    """

    start_requested = Signal(int)
    finished = Signal()

    def __init__(
        self,
        model: JobTableModel,
        *,
        clock: Callable[[], float] = time.monotonic,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._model = model
        self._clock = clock
        self._state = BatchState.IDLE
        self._keys: set[int] = set()
        self._started_at = 0.0
        self.parallel_jobs = 1

    @property
    def state(self) -> BatchState:
        return self._state

    @property
    def is_running(self) -> bool:
        return self._state is not BatchState.IDLE

    def keys(self) -> set[int]:
        """Return the keys of the rows that belong to this batch."""
        return set(self._keys)

    def start(self, only: set[int] | None = None) -> None:
        """Queue the ready rows, or those of them in `only`, and start some.

        As many start as the parallel limit allows; the rest wait in order.
        """
        if self._state is BatchState.IDLE:
            self._keys = set()
            self._started_at = self._clock()
            logger.info("Batch started with %d parallel jobs", self.parallel_jobs)
        self._state = BatchState.RUNNING
        self.add_ready_rows(only)
        self.pump()

    def add_ready_rows(self, only: set[int] | None = None) -> None:
        """Make ready rows part of the batch, such as files added meanwhile."""
        if self._state is BatchState.IDLE:
            return
        added = {
            row.key
            for row in self._model.rows()
            if row.phase is Phase.READY
            and row.key not in self._keys
            and (only is None or row.key in only)
        }
        self._keys |= added
        self._model.set_queued(added, True)

    def finish_current(self) -> None:
        """Start no more rows; the batch ends when the running ones end."""
        if self._state is BatchState.RUNNING:
            logger.info("Batch stops after the files in progress")
            self._state = BatchState.STOPPING
            self.pump()

    def stop(self) -> None:
        """End the batch at once; the caller cancels what is running."""
        if self._state is not BatchState.IDLE:
            logger.info("Batch stopped")
            self._state = BatchState.IDLE
            self._unqueue()
            self.finished.emit()

    def pump(self) -> None:
        """Start rows while there is room, and end the batch when all ended."""
        if self._state is BatchState.IDLE:
            return
        rows = [row for row in self._model.rows() if row.key in self._keys]
        self._keys = {row.key for row in rows}
        if self._state is BatchState.RUNNING:
            converting = sum(1 for row in rows if row.is_converting)
            for row in rows:
                if converting >= self.parallel_jobs:
                    break
                if row.phase is Phase.READY:
                    converting += 1
                    self.start_requested.emit(row.key)
        rows = [row for row in self._model.rows() if row.key in self._keys]
        waiting = self._state is BatchState.RUNNING and any(
            row.phase is Phase.READY for row in rows
        )
        if not waiting and not any(row.is_active for row in rows):
            logger.info("Batch finished")
            self._state = BatchState.IDLE
            self._unqueue()
            self.finished.emit()

    def _unqueue(self) -> None:
        """Mark the rows that never started as ready again, not queued."""
        self._model.set_queued(
            {row.key for row in self._model.rows() if row.queued}, False
        )

    def progress(self, auto_save: bool) -> BatchProgress:
        """Return the overall progress of the batch's rows."""
        rows = [row for row in self._model.rows() if row.key in self._keys]
        if not rows:
            return BatchProgress(0, 0, 0, 0, 0, 0.0, None)
        percent = sum(row_percent(row, auto_save) for row in rows) / len(rows)
        eta = None
        if self.is_running and MIN_PERCENT_FOR_ETA <= percent < 100:
            elapsed = self._clock() - self._started_at
            eta = elapsed * (100 - percent) / percent
        return BatchProgress(
            total=len(rows),
            done=sum(1 for row in rows if row.is_done),
            failed=sum(1 for row in rows if row.has_failed),
            skipped=sum(1 for row in rows if row.phase is Phase.SKIPPED),
            active=sum(1 for row in rows if row.is_active),
            percent=percent,
            eta_seconds=eta,
        )


def row_percent(row: JobRow, auto_save: bool) -> float:
    """Return how far one row is, counting upload, conversion and saving."""
    if row.phase is Phase.READY:
        return 0.0
    if row.phase is Phase.UPLOADING:
        return UPLOAD_SHARE * row.upload_percent / 100
    if row.is_finished:
        if row.saving:
            return UPLOAD_SHARE + CONVERT_SHARE + SAVE_SHARE * row.save_percent / 100
        if auto_save and row.can_save and row.saved_path is None:
            return UPLOAD_SHARE + CONVERT_SHARE
        return 100.0
    progress = row.state.progress if row.state is not None else 0.0
    return UPLOAD_SHARE + CONVERT_SHARE * min(progress, 100.0) / 100
