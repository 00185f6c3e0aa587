"""Run blocking client calls on Qt's thread pool and report back by signal."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]


class WorkerSignals(QObject):
    """Signals of one background task, delivered on the GUI thread.

    Signals:
        succeeded(object): the task's return value.
        failed(object): the exception the task raised.
        progressed(int, int): bytes or steps done, and the total.
    """

    succeeded = Signal(object)
    failed = Signal(object)
    progressed = Signal(int, int)


class _Task(QRunnable):
    def __init__(self, work: Callable[[ProgressCallback], Any]) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.signals = WorkerSignals()
        self._work = work

    def run(self) -> None:
        try:
            result = self._work(self.signals.progressed.emit)
        except Exception as error:  # reported to the GUI thread, never lost
            logger.debug("Background task failed: %s", error, exc_info=True)
            self.signals.failed.emit(error)
        else:
            self.signals.succeeded.emit(result)


class TaskRunner(QObject):
    """Starts tasks on a thread pool and keeps each alive until it reports.

    Create and use it on the GUI thread only.
    """

    def __init__(self, pool: QThreadPool | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self._pool = pool or QThreadPool.globalInstance()
        self._running: set[_Task] = set()

    def start(
        self,
        work: Callable[[ProgressCallback], Any],
        on_success: Callable[[Any], object],
        on_failure: Callable[[Exception], object],
        on_progress: Callable[[int, int], object] | None = None,
    ) -> None:
        """Run `work(report_progress)` off the GUI thread; callbacks run on it."""
        task = _Task(work)

        def finish_with(callback: Callable[[Any], object]) -> Callable[[Any], None]:
            def finish(value: Any) -> None:
                self._running.discard(task)
                callback(value)

            return finish

        task.signals.succeeded.connect(finish_with(on_success))
        task.signals.failed.connect(finish_with(on_failure))
        if on_progress is not None:
            task.signals.progressed.connect(on_progress)
        self._running.add(task)
        self._pool.start(task)

    @property
    def active_count(self) -> int:
        return len(self._running)

    def wait_for_done(self, timeout_ms: int = 30_000) -> bool:
        """Block until every task has ended; for shutdown and tests."""
        return self._pool.waitForDone(timeout_ms)
