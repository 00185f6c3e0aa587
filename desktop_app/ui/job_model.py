"""Table model of the job list: one row per added file."""

from __future__ import annotations

import enum
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor

from desktop_app.client.models import ConversionOptions, JobInfo
from desktop_app.client.poller import JobState
from desktop_app.formatting import STAGE_LABELS, describe_state

ProgressRole = Qt.ItemDataRole.UserRole + 1
ERROR_COLOR = "#c62828"

_keys = itertools.count(1)


class Column(enum.IntEnum):
    FILE = 0
    TARGET = 1
    PROGRESS = 2
    STATUS = 3
    ACTIONS = 4


HEADERS = {
    Column.FILE: "File",
    Column.TARGET: "Target",
    Column.PROGRESS: "Progress",
    Column.STATUS: "Status",
    Column.ACTIONS: "",
}


class Phase(enum.Enum):
    """Client-side lifecycle stage of a row."""

    READY = "ready"
    UPLOADING = "uploading"
    ON_SERVER = "on_server"
    UPLOAD_FAILED = "upload_failed"


@dataclass
class JobRow:
    """One input file and everything the window shows about it."""

    source: Path
    key: int = field(default_factory=lambda: next(_keys))
    phase: Phase = Phase.READY
    target_label: str = ""
    options: ConversionOptions | None = None
    upload_percent: float = 0.0
    state: JobState | None = None
    saving: bool = False
    save_percent: float = 0.0
    saved_path: Path | None = None
    error: str | None = None

    @property
    def job_id(self) -> str | None:
        return self.state.job_id if self.state else None

    @property
    def can_save(self) -> bool:
        """Save is offered only once the server committed the output."""
        return self.state is not None and self.state.is_downloadable and not self.saving

    @property
    def can_retry(self) -> bool:
        """True after a failed upload, a failed or interrupted job, or a cancel."""
        if self.phase is Phase.UPLOAD_FAILED:
            return True
        return self.state is not None and self.state.stage in ("failed", "cancelled")

    @property
    def can_cancel(self) -> bool:
        return self.state is not None and not self.state.is_terminal

    @property
    def has_failed(self) -> bool:
        return bool(self.error) or (
            self.state is not None and self.state.stage == "failed"
        )

    @property
    def is_active(self) -> bool:
        """True while the window still has to poll or transfer for this row."""
        return self.phase is Phase.UPLOADING or self.can_cancel or self.saving

    @property
    def progress_percent(self) -> float:
        if self.phase is Phase.UPLOADING:
            return self.upload_percent
        if self.state is not None:
            return self.state.progress
        return 0.0

    @property
    def status_text(self) -> str:
        if self.error:
            return self.error
        if self.phase is Phase.READY:
            return "Ready"
        if self.phase is Phase.UPLOADING:
            return f"{STAGE_LABELS['uploading']} {self.upload_percent:.0f} %"
        if self.saving:
            return f"Saving {self.save_percent:.0f} %"
        if self.saved_path is not None:
            return f"Saved as {self.saved_path.name}"
        assert self.state is not None
        text = describe_state(self.state)
        adjusted = len(self.state.job.adjustments) if self.state.job else 0
        if adjusted:
            # The adjustments themselves are listed in the tooltip.
            noun = "setting" if adjusted == 1 else "settings"
            text += f" \u00b7 {adjusted} {noun} adjusted"
        return text

    @property
    def tooltip(self) -> str:
        lines = [str(self.source)]
        if self.saved_path is not None:
            lines.append(f"Saved to {self.saved_path}")
        if self.error:
            lines.append(self.error)
        if self.state is not None and self.state.job is not None:
            lines.extend(self.state.job.adjustments)
        return "\n".join(lines)


class JobTableModel(QAbstractTableModel):
    """Rows of `JobRow`; GUI thread only.

    Signals:
        row_changed(int): the row with this key changed in any column.
    """

    row_changed = Signal(int)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[JobRow] = []

    # -- Qt model interface ------------------------------------------------

    def rowCount(
        self,
        parent: QModelIndex | QPersistentModelIndex = QModelIndex(),  # noqa: B008
    ) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(
        self,
        parent: QModelIndex | QPersistentModelIndex = QModelIndex(),  # noqa: B008
    ) -> int:
        return 0 if parent.isValid() else len(Column)

    def headerData(
        self,
        section: int,
        orientation: Qt.Orientation,
        role: int = Qt.ItemDataRole.DisplayRole,
    ) -> Any:
        if (
            orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
        ):
            return HEADERS[Column(section)]
        return None

    def data(
        self,
        index: QModelIndex | QPersistentModelIndex,
        role: int = Qt.ItemDataRole.DisplayRole,
    ) -> Any:
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        column = Column(index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            return row.tooltip
        if role == ProgressRole and column is Column.PROGRESS:
            return row.progress_percent
        if (
            role == Qt.ItemDataRole.ForegroundRole
            and column is Column.STATUS
            and row.has_failed
        ):
            return QColor(ERROR_COLOR)
        return None

    # -- Row access for the window -----------------------------------------

    def add_files(self, paths: list[Path]) -> list[JobRow]:
        """Append a row per path that is not listed and ready already."""
        listed = {row.source for row in self._rows if row.phase is Phase.READY}
        new_rows = [JobRow(source=path) for path in paths if path not in listed]
        if not new_rows:
            return []
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(new_rows) - 1)
        self._rows.extend(new_rows)
        self.endInsertRows()
        return new_rows

    def add_restored_row(self, job: JobInfo) -> JobRow:
        """Append a row for a completed job from an earlier run of the app."""
        state = JobState(
            job_id=job.id,
            filename=job.filename,
            progress=100.0,
            stage="completed",
            job=job,
        )
        row = JobRow(
            source=Path(job.filename),
            phase=Phase.ON_SERVER,
            target_label=job.options.format.upper(),
            state=state,
        )
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first)
        self._rows.append(row)
        self.endInsertRows()
        return row

    def rows(self) -> list[JobRow]:
        return list(self._rows)

    def row_by_key(self, key: int) -> JobRow | None:
        return next((row for row in self._rows if row.key == key), None)

    def row_by_job_id(self, job_id: str) -> JobRow | None:
        return next((row for row in self._rows if row.job_id == job_id), None)

    def position(self, key: int) -> int:
        return next(i for i, row in enumerate(self._rows) if row.key == key)

    def update_row(self, key: int, **changes: Any) -> JobRow | None:
        """Apply attribute changes to a row and repaint it."""
        row = self.row_by_key(key)
        if row is None:
            return None
        for name, value in changes.items():
            setattr(row, name, value)
        position = self.position(key)
        self.dataChanged.emit(
            self.index(position, 0), self.index(position, len(Column) - 1)
        )
        self.row_changed.emit(key)
        return row

    def _display(self, row: JobRow, column: Column) -> str | None:
        if column is Column.FILE:
            return row.source.name
        if column is Column.TARGET:
            return row.target_label
        if column is Column.PROGRESS:
            return f"{row.progress_percent:.0f} %"
        if column is Column.STATUS:
            return row.status_text
        return None
