"""The main window: add files, pick a format, convert, watch, save."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QByteArray,
    QModelIndex,
    QSettings,
    QStandardPaths,
    Qt,
    QTimer,
    Signal,
    Slot,
)
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop_app.client.api import ApiClient
from desktop_app.client.downloader import (
    Downloader,
    discard_partial_files,
    is_transient,
)
from desktop_app.client.models import ConversionOptions, FormatInfo, JobInfo
from desktop_app.client.poller import JobState, Poller
from desktop_app.formatting import describe_error, plural
from desktop_app.ui.delegates import ProgressBarDelegate, RowActions
from desktop_app.ui.job_model import Column, JobTableModel, Phase
from desktop_app.ui.workers import TaskRunner

logger = logging.getLogger(__name__)

POLL_INTERVAL_MS = 500
AUDIO_FILTER = (
    "Audio files (*.mp3 *.wav *.flac *.m4a *.aac *.ogg *.oga *.opus *.webm *.wma "
    "*.aif *.aiff *.alac *.ape *.wv *.mka *.mp4 *.amr *.au *.caf);;All files (*)"
)
COMMON_BITRATES = (32, 48, 64, 96, 128, 160, 192, 256, 320)
VORBIS_QUALITIES = (2, 3, 4, 5, 6, 7, 8, 10)


class MainWindow(QMainWindow):
    """The converter's only window. GUI thread only.

    The backend connection arrives later through `set_backend`, so the
    window can show while the bundled backend starts.

    Signals:
        backend_ready(): the backend responded and its formats are listed.
        backend_failed(str): the backend cannot be used; the reason.
    """

    backend_ready = Signal()
    backend_failed = Signal(str)

    def __init__(
        self,
        settings: QSettings,
        *,
        runner: TaskRunner | None = None,
        poll_interval_ms: int = POLL_INTERVAL_MS,
        confirm: Callable[[str, str], bool] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        """Build the window; `confirm(title, text)` returns the user's yes or no."""
        super().__init__(parent)
        self._confirm = confirm or self._ask
        self._settings = settings
        self._runner = runner or TaskRunner(parent=self)
        self._api: ApiClient | None = None
        self._poller: Poller | None = None
        self._downloader: Downloader | None = None
        self._formats: list[FormatInfo] = []
        self._poll_in_flight = False
        self._row_actions: dict[int, RowActions] = {}
        self._pending_saves = PendingSaves(settings)
        self._resumed_saves = False

        self.setWindowTitle("Audio Converter")
        self.setAcceptDrops(True)
        self._model = JobTableModel(self)
        self._poll_timer = QTimer(self)
        self._poll_timer.setObjectName("poll_timer")
        self._poll_timer.setInterval(poll_interval_ms)
        self._poll_timer.timeout.connect(self._on_poll_timer_timeout)

        self._build_widgets()
        self._connect_signals()
        self._restore_settings()
        self._update_controls()

    # -- Public interface ----------------------------------------------------

    @property
    def model(self) -> JobTableModel:
        return self._model

    @property
    def poll_timer(self) -> QTimer:
        return self._poll_timer

    def row_actions(self, key: int) -> RowActions:
        return self._row_actions[key]

    def set_backend(self, api: ApiClient, description: str) -> None:
        """Connect to a running backend and load its formats.

        Jobs the window follows move to the new connection, so a backend that
        was restarted reports what became of them.
        """
        self._api = api
        self._poller = Poller(api)
        self._downloader = Downloader(api)
        for row in self._model.rows():
            if row.state is not None and row.state.job is not None and row.can_cancel:
                self._model.update_row(row.key, state=self._poller.track(row.state.job))
                self._ensure_polling()
        self._backend_label.setText(f"Connecting to {description}...")
        self._runner.start(
            lambda _report: api.formats(),
            on_success=lambda formats: self._on_formats_loaded(formats, description),
            on_failure=self._on_backend_failed,
        )

    def show_backend_error(self, message: str) -> None:
        self._on_backend_failed(RuntimeError(message))

    def add_files(self, paths: list[Path]) -> None:
        """List files to convert; folders and missing files are reported."""
        files = [path for path in paths if path.is_file()]
        skipped = [path.name for path in paths if not path.is_file()]
        self._model.add_files(files)
        if skipped:
            self.statusBar().showMessage(
                f"Skipped {', '.join(skipped)}: not a file.", 8000
            )
        self._update_controls()

    def output_folder(self) -> Path:
        return Path(self._output_edit.text())

    def set_output_folder(self, folder: Path) -> None:
        self._output_edit.setText(str(folder))
        self._settings.setValue("output/folder", str(folder))

    def set_format(self, name: str, quality_label: str | None = None) -> None:
        """Select the output format `name` and optionally a quality entry."""
        index = self._format_combo.findData(name)
        if index >= 0:
            self._format_combo.setCurrentIndex(index)
        if quality_label is not None:
            quality_index = self._quality_combo.findText(quality_label)
            if quality_index >= 0:
                self._quality_combo.setCurrentIndex(quality_index)

    def current_options(self) -> ConversionOptions | None:
        name = self._format_combo.currentData()
        if name is None:
            return None
        extra: dict[str, Any] = self._quality_combo.currentData() or {}
        return ConversionOptions(format=name, **extra)

    @Slot()
    def start_conversion(self) -> None:
        """Upload every ready file with the chosen format and quality."""
        options = self.current_options()
        if self._api is None or options is None:
            return
        target = self._format_combo.currentText()
        if quality := self._quality_combo.currentText():
            target = f"{target}, {quality}"
        for row in self._model.rows():
            if row.phase is Phase.READY:
                self._model.update_row(
                    row.key,
                    phase=Phase.UPLOADING,
                    target_label=target,
                    options=options,
                )
                self._upload(row.key, row.source, options)
        self._update_controls()

    @Slot(int)
    def save_row(self, key: int, folder: Path | None = None) -> None:
        """Download the row's output into `folder` (default: the output folder).

        The save is remembered until it ends, so that an app that was closed
        or killed meanwhile resumes it on its next start.
        """
        row = self._model.row_by_key(key)
        if row is None or not row.can_save or self._downloader is None:
            return
        assert row.state is not None and row.state.job is not None
        job, downloader = row.state.job, self._downloader
        target = folder or self.output_folder()
        self._pending_saves.add(job.id, target)
        self._model.update_row(key, saving=True, save_percent=0.0, error=None)

        def on_saved(path: Path) -> None:
            self._pending_saves.remove(job.id)
            self._model.update_row(key, saving=False, saved_path=path)

        def on_failed(error: Exception) -> None:
            # A save cut off by the network resumes on the next start.
            if not is_transient(error):
                self._pending_saves.remove(job.id)
            self._model.update_row(
                key, saving=False, error=describe_error("Saving", error)
            )

        self._runner.start(
            lambda report: downloader.download(job, target, on_progress=report),
            on_success=on_saved,
            on_failure=on_failed,
            on_progress=lambda done, total: self._model.update_row(
                key, save_percent=100.0 * done / total if total else 0.0
            ),
        )

    @Slot(int)
    def retry_row(self, key: int) -> None:
        """Convert a failed or cancelled row's file again with its options."""
        row = self._model.row_by_key(key)
        if row is None or not row.can_retry or self._api is None:
            return
        if row.job_id is not None and self._poller is not None:
            self._poller.forget(row.job_id)
        options = row.options or self.current_options()
        if options is None:
            return
        self._model.update_row(
            key,
            phase=Phase.UPLOADING,
            state=None,
            error=None,
            saved_path=None,
            upload_percent=0.0,
            options=options,
        )
        self._upload(key, row.source, options)

    @Slot(int)
    def cancel_row(self, key: int) -> None:
        row = self._model.row_by_key(key)
        if row is None or row.job_id is None or self._api is None:
            return
        api, job_id = self._api, row.job_id
        self._runner.start(
            lambda _report: api.cancel_job(job_id),
            on_success=lambda _job: self._ensure_polling(),
            on_failure=lambda error: self.statusBar().showMessage(
                f"Could not cancel {row.source.name}: {error}", 8000
            ),
        )

    # -- Building the window ---------------------------------------------------

    def _build_widgets(self) -> None:
        self._add_button = QPushButton("Add files...")
        self._add_button.setShortcut(QKeySequence.StandardKey.Open)
        self._add_button.setToolTip("Choose audio files to convert (Ctrl+O)")
        self._format_combo = QComboBox()
        self._format_combo.setAccessibleName("Output format")
        self._quality_combo = QComboBox()
        self._quality_combo.setAccessibleName("Quality")
        self._quality_combo.setMinimumContentsLength(14)
        self._output_edit = QLineEdit()
        self._output_edit.setAccessibleName("Output folder")
        self._output_edit.setToolTip(
            "Folder for saved files; type a path or use Choose..."
        )
        self._output_button = QPushButton("Choose...")
        self._output_button.setAccessibleName("Choose output folder")
        self._convert_button = QPushButton("Convert")
        self._convert_button.setDefault(True)
        self._convert_button.setShortcut(QKeySequence("Ctrl+Return"))
        self._convert_button.setToolTip("Convert every file marked Ready (Ctrl+Enter)")

        options_form = QFormLayout()
        format_row = QHBoxLayout()
        format_row.addWidget(self._format_combo, 1)
        format_row.addWidget(QLabel("Quality:"))
        format_row.addWidget(self._quality_combo, 1)
        options_form.addRow("Format:", format_row)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self._output_edit, 1)
        folder_row.addWidget(self._output_button)
        options_form.addRow("Save to:", folder_row)

        top_row = QHBoxLayout()
        top_row.addWidget(self._add_button)
        top_row.addLayout(options_form, 1)
        top_row.addWidget(self._convert_button, 0, Qt.AlignmentFlag.AlignBottom)

        self._table_view = QTableView()
        self._table_view.setModel(self._model)
        self._table_view.setItemDelegateForColumn(
            Column.PROGRESS, ProgressBarDelegate(self._table_view)
        )
        self._table_view.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self._table_view.verticalHeader().hide()
        self._table_view.verticalHeader().setDefaultSectionSize(34)
        self._table_view.setAlternatingRowColors(True)
        self._table_view.setWordWrap(False)
        header = self._table_view.horizontalHeader()
        header.setSectionResizeMode(Column.FILE, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(Column.STATUS, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(Column.ACTIONS, QHeaderView.ResizeMode.Fixed)
        self._table_view.setColumnWidth(Column.FILE, 220)
        self._table_view.setColumnWidth(Column.TARGET, 150)
        self._table_view.setColumnWidth(Column.PROGRESS, 140)
        self._table_view.setColumnWidth(Column.ACTIONS, 170)

        self._empty_label = QLabel(
            "Add audio files to convert them.\n"
            "Use Add files... or drop files onto this window."
        )
        self._empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._empty_label.setEnabled(False)
        self._table_stack = QStackedWidget()
        self._table_stack.addWidget(self._empty_label)
        self._table_stack.addWidget(self._table_view)

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addLayout(top_row)
        layout.addWidget(self._table_stack, 1)
        self.setCentralWidget(central)

        self._backend_label = QLabel("Starting the converter...")
        self.statusBar().addPermanentWidget(self._backend_label)
        self.resize(1040, 520)

    def _connect_signals(self) -> None:
        self._add_button.clicked.connect(self._on_add_button_clicked)
        self._output_button.clicked.connect(self._on_output_button_clicked)
        self._output_edit.editingFinished.connect(self._on_output_edit_editing_finished)
        self._convert_button.clicked.connect(self.start_conversion)
        self._format_combo.currentIndexChanged.connect(
            self._on_format_combo_current_index_changed
        )
        self._quality_combo.currentIndexChanged.connect(self._remember_choices)
        self._model.rowsInserted.connect(self._on_model_rows_inserted)
        self._model.row_changed.connect(self._on_model_row_changed)

    def _restore_settings(self) -> None:
        default_folder = QStandardPaths.writableLocation(
            QStandardPaths.StandardLocation.MusicLocation
        ) or str(Path.home())
        folder = self._settings.value("output/folder", default_folder, type=str)
        self._output_edit.setText(str(folder))
        geometry = self._settings.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)

    # -- Slots -----------------------------------------------------------------

    @Slot()
    def _on_add_button_clicked(self) -> None:
        start = self._settings.value("input/folder", str(Path.home()), type=str)
        names, _ = QFileDialog.getOpenFileNames(
            self, "Add audio files", str(start), AUDIO_FILTER
        )
        if names:
            paths = [Path(name) for name in names]
            self._settings.setValue("input/folder", str(paths[0].parent))
            self.add_files(paths)

    @Slot()
    def _on_output_button_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Save converted files to", self._output_edit.text()
        )
        if folder:
            self.set_output_folder(Path(folder))

    @Slot()
    def _on_output_edit_editing_finished(self) -> None:
        text = self._output_edit.text().strip()
        if text:
            self.set_output_folder(Path(text).expanduser())

    @Slot(int)
    def _on_format_combo_current_index_changed(self, index: int) -> None:
        self._fill_quality_combo()
        self._remember_choices()

    @Slot()
    def _remember_choices(self) -> None:
        if self._format_combo.currentData() is None:
            return
        self._settings.setValue("conversion/format", self._format_combo.currentData())
        self._settings.setValue("conversion/quality", self._quality_combo.currentText())

    @Slot(QModelIndex, int, int)
    def _on_model_rows_inserted(self, parent: Any, first: int, last: int) -> None:
        for position in range(first, last + 1):
            row = self._model.rows()[position]
            actions = RowActions(row.key, row.source.name)
            actions.save_requested.connect(self.save_row)
            actions.cancel_requested.connect(self.cancel_row)
            actions.retry_requested.connect(self.retry_row)
            self._row_actions[row.key] = actions
            self._table_view.setIndexWidget(
                self._model.index(position, Column.ACTIONS), actions
            )
        self._table_stack.setCurrentWidget(self._table_view)

    @Slot(int)
    def _on_model_row_changed(self, key: int) -> None:
        row = self._model.row_by_key(key)
        actions = self._row_actions.get(key)
        if row is not None and actions is not None:
            actions.set_enabled(
                can_save=row.can_save,
                can_cancel=row.can_cancel,
                can_retry=row.can_retry,
            )
        self._update_controls()

    @Slot()
    def _on_poll_timer_timeout(self) -> None:
        if self._poll_in_flight or self._poller is None:
            return
        if not self._poller.active_ids:
            self._poll_timer.stop()
            return
        poller = self._poller
        self._poll_in_flight = True
        self._runner.start(
            lambda _report: poller.poll(),
            on_success=self._on_poll_finished,
            on_failure=self._on_poll_failed,
        )

    # -- Helpers ---------------------------------------------------------------

    def _upload(self, key: int, source: Path, options: ConversionOptions) -> None:
        assert self._api is not None
        api = self._api

        def on_uploaded(job: JobInfo) -> None:
            assert self._poller is not None
            state = self._poller.track(job)
            self._model.update_row(key, phase=Phase.ON_SERVER, state=state)
            self._ensure_polling()

        self._runner.start(
            lambda report: api.create_job(source, options, on_upload=report),
            on_success=on_uploaded,
            on_failure=lambda error: self._model.update_row(
                key,
                phase=Phase.UPLOAD_FAILED,
                error=describe_error("Sending the file to the converter", error),
            ),
            on_progress=lambda done, total: self._model.update_row(
                key, upload_percent=100.0 * done / total if total else 100.0
            ),
        )

    def _on_poll_finished(self, states: list[JobState]) -> None:
        self._poll_in_flight = False
        for state in states:
            row = self._model.row_by_job_id(state.job_id)
            if row is not None:
                self._model.update_row(row.key, state=state)
        if self._poller is not None and not self._poller.active_ids:
            self._poll_timer.stop()

    def _on_poll_failed(self, error: Exception) -> None:
        self._poll_in_flight = False
        logger.warning("Polling failed: %s", error)

    def _ensure_polling(self) -> None:
        if not self._poll_timer.isActive():
            self._poll_timer.start()

    def _on_formats_loaded(self, formats: list[FormatInfo], description: str) -> None:
        self._formats = formats
        saved_format = self._settings.value("conversion/format", "mp3", type=str)
        saved_quality = self._settings.value("conversion/quality", "", type=str)
        self._format_combo.blockSignals(True)
        self._format_combo.clear()
        for fmt in formats:
            self._format_combo.addItem(fmt.label, fmt.name)
        self._format_combo.blockSignals(False)
        self.set_format(str(saved_format))
        self._fill_quality_combo()
        if saved_quality:
            self.set_format(str(saved_format), str(saved_quality))
        self._backend_label.setText(f"Ready: {description}")
        self._update_controls()
        self._resume_pending_saves()
        self.backend_ready.emit()

    def _resume_pending_saves(self) -> None:
        """Finish the saves that an earlier run of the app left unfinished."""
        api = self._api
        if api is None or self._resumed_saves:
            return
        self._resumed_saves = True
        for job_id, folder in self._pending_saves.items():

            def resume(job: JobInfo, folder: Path = folder) -> None:
                if job.status != "completed":
                    discard_partial_files(folder, job.id)
                    self._pending_saves.remove(job.id)
                    return
                row = self._model.add_restored_row(job)
                self.save_row(row.key, folder)

            def forget(
                error: Exception, job_id: str = job_id, folder: Path = folder
            ) -> None:
                logger.warning("Cannot resume saving job %s: %s", job_id, error)
                if not is_transient(error):
                    discard_partial_files(folder, job_id)
                    self._pending_saves.remove(job_id)

            self._runner.start(
                functools.partial(_fetch_job, api, job_id),
                on_success=resume,
                on_failure=forget,
            )

    def _on_backend_failed(self, error: Exception) -> None:
        logger.error("Backend unavailable: %s", error)
        self._backend_label.setText("Converter unavailable")
        self.statusBar().showMessage(f"The converter is unavailable: {error}")
        self._update_controls()
        self.backend_failed.emit(str(error))

    def _fill_quality_combo(self) -> None:
        fmt = next(
            (f for f in self._formats if f.name == self._format_combo.currentData()),
            None,
        )
        self._quality_combo.blockSignals(True)
        self._quality_combo.clear()
        if fmt is not None:
            for label, data in quality_choices(fmt):
                self._quality_combo.addItem(label, data)
            default = default_quality_label(fmt)
            if default is not None:
                self._quality_combo.setCurrentText(default)
        self._quality_combo.setEnabled(self._quality_combo.count() > 1)
        self._quality_combo.blockSignals(False)

    def _update_controls(self) -> None:
        ready = any(row.phase is Phase.READY for row in self._model.rows())
        connected = bool(self._formats)
        self._convert_button.setEnabled(connected and ready)
        self._format_combo.setEnabled(connected)
        if self._model.rowCount() == 0:
            self._table_stack.setCurrentWidget(self._empty_label)

    def closeEvent(self, event: QCloseEvent) -> None:
        rows = self._model.rows()
        busy = sum(1 for row in rows if row.is_active)
        unsaved = sum(1 for row in rows if row.can_save and row.saved_path is None)
        if (busy or unsaved) and not self._confirm_quit(busy, unsaved):
            event.ignore()
            return
        self._poll_timer.stop()
        self._settings.setValue("window/geometry", self.saveGeometry())
        self._settings.sync()
        super().closeEvent(event)

    def _confirm_quit(self, busy: int, unsaved: int) -> bool:
        problems = []
        if busy:
            verb = "is" if busy == 1 else "are"
            problems.append(
                f"{plural(busy, 'file')} {verb} still converting or saving."
            )
        if unsaved:
            problems.append(f"{plural(unsaved, 'converted file')} not saved yet.")
        return self._confirm(
            "Quit Audio Converter?",
            " ".join([*problems, "Quitting discards them. Quit anyway?"]),
        )

    def _ask(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self, title, text)
        return answer == QMessageBox.StandardButton.Yes

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls()]
        self.add_files([path for path in paths if str(path)])
        event.acceptProposedAction()


def _fetch_job(api: ApiClient, job_id: str, _report: object) -> JobInfo:
    return api.get_job(job_id)


class PendingSaves:
    """Saves that have started but not ended, kept in QSettings as JSON."""

    KEY = "downloads/pending"

    def __init__(self, settings: QSettings) -> None:
        self._settings = settings

    def items(self) -> list[tuple[str, Path]]:
        return [(job_id, Path(folder)) for job_id, folder in self._load().items()]

    def add(self, job_id: str, folder: Path) -> None:
        pending = self._load()
        pending[job_id] = str(folder)
        self._store(pending)

    def remove(self, job_id: str) -> None:
        pending = self._load()
        if pending.pop(job_id, None) is not None:
            self._store(pending)

    def _load(self) -> dict[str, str]:
        raw = self._settings.value(self.KEY, "{}", type=str)
        try:
            data = json.loads(str(raw))
        except ValueError:
            return {}
        return (
            {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
        )

    def _store(self, pending: dict[str, str]) -> None:
        self._settings.setValue(self.KEY, json.dumps(pending))
        self._settings.sync()


def quality_choices(fmt: FormatInfo) -> list[tuple[str, dict[str, Any]]]:
    """Return (label, option fields) entries for the quality combo box."""
    if fmt.lossless:
        return [("Lossless", {})]
    if fmt.name == "vorbis" and fmt.quality_range is not None:
        return [(f"Quality {q}", {"quality": float(q)}) for q in VORBIS_QUALITIES]
    steps: tuple[int, ...] = fmt.bitrate_steps or ()
    if not steps and fmt.bitrate_range is not None:
        low, high = fmt.bitrate_range
        steps = tuple(rate for rate in COMMON_BITRATES if low <= rate <= high)
    return [(f"{rate} kbit/s", {"bitrate_kbps": rate}) for rate in steps]


def default_quality_label(fmt: FormatInfo) -> str | None:
    if fmt.lossless:
        return "Lossless"
    if fmt.name == "vorbis":
        return "Quality 5"
    if fmt.default_bitrate_kbps is not None:
        return f"{fmt.default_bitrate_kbps} kbit/s"
    return None
