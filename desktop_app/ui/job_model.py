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
from PySide6.QtGui import QGuiApplication

from desktop_app.client.models import ConversionOptions, JobInfo, MetadataReport
from desktop_app.client.poller import JobState
from desktop_app.client.sources import SourceFile
from desktop_app.formatting import STAGE_LABELS, describe_state
from desktop_app.ui.theme import error_color

ProgressRole = Qt.ItemDataRole.UserRole + 1

_keys = itertools.count(1)


class Column(enum.IntEnum):
    FILE = 0
    TARGET = 1
    PROGRESS = 2
    STATUS = 3
    TAGS = 4
    ACTIONS = 5


HEADERS = {
    Column.FILE: "File",
    Column.TARGET: "Target",
    Column.PROGRESS: "Progress",
    Column.STATUS: "Status",
    Column.TAGS: "Tags",
    Column.ACTIONS: "",
}


class Phase(enum.Enum):
    """Client-side lifecycle stage of a row."""

    READY = "ready"
    UPLOADING = "uploading"
    ON_SERVER = "on_server"
    UPLOAD_FAILED = "upload_failed"
    SKIPPED = "skipped"
    # Restored from the saved list after it had ended; no job to follow.
    FINISHED = "finished"


@dataclass
class JobRow:
    """One input file and everything the window shows about it."""

    source: Path
    root: Path | None = None
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
    skip_reason: str | None = None
    cancel_requested: bool = False
    # True while the row waits in a running batch.
    queued: bool = False
    # The source's tags, read before the upload so that a moved or deleted
    # source still names its output.
    tags: dict[str, str] | None = None
    # The folder the name is shown relative to, such as the output folder.
    display_root: Path | None = None
    # The job of a row restored from the saved file list, until the server
    # reports on it.
    restored_job_id: str | None = None

    @property
    def job_id(self) -> str | None:
        return self.state.job_id if self.state else self.restored_job_id

    @property
    def can_save(self) -> bool:
        """Save is offered only once the server committed the output."""
        return (
            self.phase is Phase.ON_SERVER
            and self.state is not None
            and self.state.is_downloadable
            and not self.saving
            and self.saved_path is None
        )

    @property
    def can_retry(self) -> bool:
        """True after a failed upload, a failed or interrupted job, or a cancel."""
        if self.phase in (Phase.UPLOAD_FAILED, Phase.SKIPPED):
            return True
        if self.phase is Phase.FINISHED:
            return self.saved_path is None
        if self.error and not self.saving:
            return True
        return self.state is not None and self.state.stage in ("failed", "cancelled")

    @property
    def can_cancel(self) -> bool:
        return self.state is not None and not self.state.is_terminal

    @property
    def can_remove(self) -> bool:
        return not self.is_active

    @property
    def has_failed(self) -> bool:
        return bool(self.error) or (
            self.state is not None and self.state.stage == "failed"
        )

    @property
    def is_converting(self) -> bool:
        """True while the row takes one of the batch's parallel slots."""
        return self.phase is Phase.UPLOADING or self.can_cancel

    @property
    def is_finished(self) -> bool:
        """True once the conversion ended, however it ended."""
        if self.phase in (Phase.UPLOAD_FAILED, Phase.SKIPPED, Phase.FINISHED):
            return True
        return self.state is not None and self.state.is_terminal

    @property
    def is_done(self) -> bool:
        """True once the file converted, whether saved yet or not."""
        if self.phase is Phase.FINISHED:
            return self.saved_path is not None
        return (
            self.phase is Phase.ON_SERVER
            and self.state is not None
            and self.state.stage == "completed"
        )

    @property
    def is_cancelled(self) -> bool:
        return self.state is not None and self.state.stage == "cancelled"

    @property
    def metadata(self) -> MetadataReport | None:
        job = self.state.job if self.state is not None else None
        return job.metadata if job is not None else None

    @property
    def is_active(self) -> bool:
        """True while the window still has to poll or transfer for this row."""
        return self.phase is Phase.UPLOADING or self.can_cancel or self.saving

    @property
    def progress_percent(self) -> float | None:
        """Return the percentage for the progress bar; None shows no bar."""
        if self.saved_path is not None or self.is_done:
            return 100.0
        if self.has_failed or self.is_cancelled or self.phase is Phase.SKIPPED:
            return None
        if self.phase is Phase.UPLOADING:
            return self.upload_percent
        if self.state is not None:
            return self.state.progress
        return 0.0

    @property
    def status_text(self) -> str:
        if self.error:
            return self.error
        if self.phase is Phase.SKIPPED:
            return f"Skipped: {self.skip_reason}"
        if self.phase is Phase.READY:
            return "Queued" if self.queued else "Ready"
        if self.phase is Phase.UPLOADING:
            return f"{STAGE_LABELS['uploading']} {self.upload_percent:.0f} %"
        if self.saving:
            return f"Saving {self.save_percent:.0f} %"
        if self.saved_path is not None:
            return f"Saved as {self.saved_name}"
        if self.state is None:
            return "Asking the converter about this file..."
        text = describe_state(self.state)
        adjusted = len(self.state.job.adjustments) if self.state.job else 0
        if adjusted:
            # The adjustments themselves are listed in the tooltip.
            noun = "setting" if adjusted == 1 else "settings"
            text += f" \u00b7 {adjusted} {noun} adjusted"
        return text

    @property
    def saved_name(self) -> str:
        """Return the saved file's path below the output folder, or its name."""
        assert self.saved_path is not None
        if self.display_root is not None:
            try:
                return str(self.saved_path.relative_to(self.display_root))
            except ValueError:
                pass
        return self.saved_path.name

    @property
    def tooltip(self) -> str:
        lines = [str(self.source)]
        if self.saved_path is not None:
            lines.append(f"Saved to {self.saved_path}")
        if self.error:
            lines.append(self.error)
        if self.state is not None and self.state.job is not None:
            lines.extend(self.state.job.adjustments)
        if self.metadata is not None:
            lines.append(describe_metadata(self.metadata, detailed=True))
        return "\n".join(lines)

    @property
    def tags_text(self) -> str:
        return describe_metadata(self.metadata) if self.metadata is not None else ""


def describe_metadata(report: MetadataReport, detailed: bool = False) -> str:
    """Return what happened to the tags and the cover picture.

    The short form suits the table (`6 kept, comment dropped, cover kept`);
    the detailed form names every tag, for the tooltip.
    """
    if detailed:
        sentences = []
        if report.kept:
            sentences.append(f"Tags kept: {', '.join(report.kept)}.")
        if report.dropped:
            sentences.append(f"Tags dropped: {', '.join(report.dropped)}.")
        if report.picture is not None:
            sentences.append(f"Cover picture {report.picture}.")
        return " ".join(sentences) or "The source has no tags."
    parts = []
    if report.kept:
        parts.append(f"{len(report.kept)} kept")
    if report.dropped:
        parts.append(f"{', '.join(report.dropped)} dropped")
    if report.picture is not None:
        parts.append(f"cover {report.picture}")
    return ", ".join(parts) or "No tags"


class JobTableModel(QAbstractTableModel):
    """Rows of `JobRow`; GUI thread only.

    Signals:
        row_changed(int): the row with this key changed in any column.
        rows_changed(): many rows changed at once, such as a whole batch.
    """

    row_changed = Signal(int)
    rows_changed = Signal()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[JobRow] = []
        # Row key to position in _rows, rebuilt when rows come or go.
        self._positions: dict[int, int] = {}

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
            return error_color(QGuiApplication.palette())
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return self._display(row, column)
        return None

    # -- Row access for the window -----------------------------------------

    def add_files(self, paths: list[Path]) -> list[JobRow]:
        """Append a row per path that is not listed and ready already."""
        return self.add_sources([SourceFile(path, None) for path in paths])

    def add_sources(
        self,
        sources: list[SourceFile],
        *,
        options: ConversionOptions | None = None,
        target_label: str = "",
    ) -> list[JobRow]:
        """Append a row per source file that is not listed and ready already."""
        listed = {row.source for row in self._rows if row.phase is Phase.READY}
        new_rows = []
        for source in sources:
            if source.path not in listed:
                listed.add(source.path)
                row = JobRow(
                    source=source.path,
                    root=source.root,
                    options=options,
                    target_label=target_label,
                )
                new_rows.append(row)
        return self.append_rows(new_rows)

    def append_rows(self, new_rows: list[JobRow]) -> list[JobRow]:
        """Append rows built elsewhere, such as rows restored from a saved queue."""
        if not new_rows:
            return []
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(new_rows) - 1)
        self._rows.extend(new_rows)
        self._index_rows()
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
        self._index_rows()
        self.endInsertRows()
        return row

    def remove_rows(self, keys: set[int]) -> list[JobRow]:
        """Remove the rows with these keys; return the removed rows."""
        removed = []
        for position in reversed(range(len(self._rows))):
            if self._rows[position].key in keys:
                self.beginRemoveRows(QModelIndex(), position, position)
                removed.append(self._rows.pop(position))
                self._index_rows()
                self.endRemoveRows()
        return removed

    def set_queued(self, keys: set[int], queued: bool) -> None:
        """Mark many rows as waiting in a batch, or not, with one repaint."""
        if not keys:
            return
        for row in self._rows:
            if row.key in keys:
                row.queued = queued
        self.dataChanged.emit(
            self.index(0, 0), self.index(len(self._rows) - 1, len(Column) - 1)
        )
        self.rows_changed.emit()

    def rows(self) -> list[JobRow]:
        return list(self._rows)

    def row_by_key(self, key: int) -> JobRow | None:
        position = self._positions.get(key)
        return self._rows[position] if position is not None else None

    def row_by_job_id(self, job_id: str) -> JobRow | None:
        return next((row for row in self._rows if row.job_id == job_id), None)

    def position(self, key: int) -> int:
        return self._positions[key]

    def _index_rows(self) -> None:
        self._positions = {row.key: position for position, row in enumerate(self._rows)}

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
            percent = row.progress_percent
            return f"{percent:.0f} %" if percent is not None else ""
        if column is Column.STATUS:
            return row.status_text
        if column is Column.TAGS:
            return row.tags_text
        return None
